// Draws the API documentation from our own schema URL (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.dataset.schemaUrl, domNode: node, deepLinking: true });
})();
