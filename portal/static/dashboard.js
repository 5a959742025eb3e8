// Dashboard charts. A chart whose data is empty stays hidden: the page says why next to it, and every
// chart has its data table beside it (screen readers, printing). Ratios are percentages (0-100).
(function () {
  "use strict";
  var url = document.getElementById("dashboard-script").dataset.url;
  function chart(id, hasData, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (hasData && window.echarts) {
      el.hidden = false;
      var c = window.echarts.init(el);
      c.setOption(option);
      window.addEventListener("resize", function () { c.resize(); });
    } else {
      el.dataset.empty = "1";
    }
    el.dataset.rendered = "1";
  }
  fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
    var stageTotal = d.open_by_stage.reduce(function (n, s) { return n + s.count; }, 0);
    chart("chart-stage", stageTotal > 0, {
      tooltip: {}, grid: {containLabel: true, left: 8, right: 8},
      xAxis: {type: "category", data: d.open_by_stage.map(function (s) { return s.label; }), axisLabel: {interval: 0, rotate: 30}},
      yAxis: {type: "value", minInterval: 1, name: "件"},
      series: [{type: "bar", data: d.open_by_stage.map(function (s) { return s.count; })}]
    });
    chart("chart-trend", d.decisions.trend.length > 0, {
      tooltip: {trigger: "axis"}, grid: {containLabel: true, left: 8, right: 8},
      xAxis: {type: "category", data: d.decisions.trend.map(function (t) { return t.month; })},
      yAxis: {type: "value", name: "工作日"},
      series: [{type: "line", data: d.decisions.trend.map(function (t) { return t.median_working_days; })}]
    });
    chart("chart-reports", d.reports.length > 0, {
      tooltip: {valueFormatter: function (v) { return v === null ? "—" : v + "%"; }}, grid: {containLabel: true, left: 8, right: 8},
      xAxis: {type: "category", data: d.reports.map(function (r) { return r.township; }), axisLabel: {interval: 0, rotate: 30}},
      yAxis: {type: "value", min: 0, max: 100, name: "%", axisLabel: {formatter: "{value}%"}},
      series: [{type: "bar", data: d.reports.map(function (r) { return r.percent; })}]
    });
  });
})();
