// Starts Swagger UI on /api/docs. A file, not an inline script, so the page's CSP needs no
// 'unsafe-inline'; the spec URL and extra options come from the container's data attributes.
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  var config = {
    url: node.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  };
  var extra = JSON.parse(node.getAttribute("data-config") || "{}");
  for (var name in extra) {
    if (Object.prototype.hasOwnProperty.call(extra, name)) config[name] = extra[name];
  }
  window.ui = SwaggerUIBundle(config);
});
