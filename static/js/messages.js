// A message about work in progress ("a worker is picking the sample") is marked transient: once a job on
// the page finishes (the progress fragment's "job-finished" event), it no longer holds and is removed; the
// job's own panel says how it ended.
document.addEventListener("job-finished", function () {
  document.querySelectorAll(".msg.transient").forEach(function (message) {
    var list = message.parentElement;
    message.remove();
    if (list && list.classList.contains("messages") && !list.children.length) {
      list.remove();
    }
  });
});
