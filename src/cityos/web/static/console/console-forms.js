// Console forms: a chosen YAML file is read into the text area it names (data-fills), so the
// import posts a plain form (no multipart). Without script the text area still takes a paste.
document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
  input.addEventListener("change", function () {
    var target = document.getElementById(input.getAttribute("data-fills"));
    var file = input.files && input.files[0];
    if (!target || !file) return;
    file.text().then(function (text) { target.value = text; });
  });
});

// A form that removes something asks first (data-confirm holds the question).
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });
});
