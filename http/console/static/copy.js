// Copy buttons: a button with data-copy="id" copies the text of the
// element of that id.
(function () {
  'use strict';
  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest('button[data-copy]');
    if (!btn) { return; }
    var el = document.getElementById(btn.dataset.copy);
    if (!el) { return; }
    var text = el.value !== undefined && el.tagName === 'INPUT' ? el.value : el.textContent;
    var label = btn.textContent;
    function said(what) {
      btn.textContent = what;
      setTimeout(function () { btn.textContent = label; }, 1500);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { said('Copied'); }, function () { said('Copy failed'); });
    } else {
      said('Select and copy');
    }
  });
})();
