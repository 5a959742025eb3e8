// Monitoring dashboard charts (ECharts from static files); each chart has its data table beside it.
(function () {
  "use strict";
  var url = document.getElementById("monitoring-script").dataset.url;
  function chart(id, rows, type) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var total = rows.reduce(function (n, r) { return n + r.value; }, 0);
    if (total > 0 && window.echarts) {
      el.hidden = false;
      var c = window.echarts.init(el);
      var option = type === "pie" ? {
        tooltip: {}, series: [{type: "pie", radius: "65%", data: rows.map(function (r) { return {name: r.name, value: r.value}; })}]
      } : {
        tooltip: {}, grid: {containLabel: true, left: 8, right: 8},
        xAxis: {type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: {interval: 0, rotate: 20}},
        yAxis: {type: "value", minInterval: 1},
        series: [{type: type === "funnel" ? "bar" : "bar", data: rows.map(function (r) { return r.value; })}]
      };
      c.setOption(option);
      window.addEventListener("resize", function () { c.resize(); });
    } else {
      el.dataset.empty = "1";
    }
    el.dataset.rendered = "1";
  }
  function rows(list) { return list.map(function (r) { return {name: r.label, value: r.count}; }); }
  fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
    chart("chart-scenario", rows(d.by_scenario), "bar");
    chart("chart-level", rows(d.by_level), "pie");
    chart("chart-disposition", rows(d.dispositions), "bar");
    var c = d.conversion;
    chart("chart-conversion", [
      {name: "监测预警", value: c.warnings}, {name: "代为申请", value: c.applications},
      {name: "已批准", value: c.approved}, {name: "纳入救助", value: c.enrollments}
    ], "funnel");
  });
}());
