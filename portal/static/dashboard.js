(function () {
  var url = document.getElementById("dashboard-script").dataset.url;
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = window.echarts.init(el);
    c.setOption(option);
    el.dataset.rendered = "1";
    window.addEventListener("resize", function () { c.resize(); });
  }
  fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
    chart("chart-stage", {
      title: {text: "在办案件（按环节）"}, tooltip: {}, xAxis: {type: "category", data: d.open_by_stage.map(function (s) { return s.label; })},
      yAxis: {type: "value", minInterval: 1}, series: [{type: "bar", data: d.open_by_stage.map(function (s) { return s.count; })}]
    });
    chart("chart-trend", {
      title: {text: "申请至办结用时中位数（工作日）"}, tooltip: {trigger: "axis"},
      xAxis: {type: "category", data: d.decisions.trend.map(function (t) { return t.month; })},
      yAxis: {type: "value"}, series: [{type: "line", data: d.decisions.trend.map(function (t) { return t.median_working_days; })}]
    });
    chart("chart-reports", {
      title: {text: "报告按时首次联系比例（按乡镇）"}, tooltip: {},
      xAxis: {type: "category", data: d.reports.map(function (r) { return r.township; })},
      yAxis: {type: "value", max: 1}, series: [{type: "bar", data: d.reports.map(function (r) { return r.share; })}]
    });
  });
})();
