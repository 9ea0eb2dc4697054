// MathJax 2.7's settings for the formgrader's grading page, read by MathJax.js when it loads
// (a file, not nbconvert's inline configuration: the page allows no inline script).
window.MathJax = {
  tex2jax: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  TeX: { equationNumbers: { autoNumber: "AMS", useLabelIds: true } },
  displayAlign: "center",
  messageStyle: "none",
  CommonHTML: { linebreaks: { automatic: true } }
};
