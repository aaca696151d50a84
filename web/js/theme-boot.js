// The theme, applied before the first paint: a classic script in <head> (the page allows no inline
// script), run before the body is parsed. It reads the setting (localStorage "parley.theme":
// "light", "dark" or "system", the default), sets <html data-theme> to the theme it means, and
// follows the system while the setting is "system". js/ui/theme.js changes the setting.
(function () {
  'use strict';
  var KEY = 'parley.theme';
  var media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  function setting() {
    try {
      var v = JSON.parse(localStorage.getItem(KEY));
      return v === 'light' || v === 'dark' ? v : 'system';
    } catch (e) {
      return 'system';
    }
  }
  function apply(choice) {
    var theme = choice === 'system' ? (media && media.matches ? 'dark' : 'light') : choice;
    var root = document.documentElement;
    root.setAttribute('data-theme', theme);
    root.setAttribute('data-theme-setting', choice);
    var metas = document.querySelectorAll('meta[name="theme-color"]');
    for (var i = 0; i < metas.length; i++) metas[i].setAttribute('content', theme === 'dark' ? '#101217' : '#f6f7fb');
  }
  apply(setting());
  if (media && media.addEventListener) media.addEventListener('change', function () { apply(setting()); });
  // Another tab changed the setting.
  window.addEventListener('storage', function (e) { if (e.key === KEY) apply(setting()); });
  window.parleyTheme = { apply: apply, setting: setting };
}());
