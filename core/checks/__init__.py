"""The household economic check (家庭经济状况核对): one check per application once every adult has
authorized it, graded by the county's assessment model (docs/checks.md)."""
