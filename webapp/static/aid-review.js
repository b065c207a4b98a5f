// 全选本页: the header checkbox selects or clears every row of the page shown (the form posts the checked ids).
document.querySelectorAll(".aid-grid .select-all").forEach((all) => {
  all.addEventListener("change", () => {
    all.closest("table").querySelectorAll("tbody input[name=worker_id]").forEach((box) => {
      box.checked = all.checked;
    });
  });
});
