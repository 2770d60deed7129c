// Applies the remembered theme before the first paint (dark unless the user chose light).
(function () {
  try {
    var theme = localStorage.getItem("ioc-theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage refused: keep the default */ }
})();
