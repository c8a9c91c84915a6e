// Label audit: number keys pick a label (1 for the first button, 2 for the second, …).
// One listener on the document, so it keeps working after htmx swaps in the next item.
document.addEventListener("keydown", function (event) {
  if (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA") return;
  const button = document.querySelector('.label-choice[data-key="' + event.key + '"]');
  if (button) { event.preventDefault(); button.click(); }
});
