"""The officer's desk: read models over every kind of case work — queues with their buckets, filters, search
and exports, and the dashboard. Above casework, applications and reports (it reads all of them); it changes
nothing but assignments, through core.casework."""
