// Paystatus: a little progressive enhancement. Every page works without it.
"use strict";

// Live regions refresh themselves every N seconds without a full reload (keeps filters and paging).
function startLiveRefresh() {
  document.querySelectorAll("[data-refresh-seconds]").forEach((region) => {
    const seconds = Number(region.dataset.refreshSeconds) || 30;
    setInterval(async () => {
      if (document.hidden) return;
      try {
        const url = new URL(window.location.href);
        url.searchParams.set("fragment", region.id);
        const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        // The session expired (or access went): the server redirected the fragment to the login
        // page. Reload the whole page, which leads there, instead of nesting it in this region.
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();
          return;
        }
        if (response.ok) {
          region.innerHTML = await response.text();
          region.dataset.refreshedAt = new Date().toISOString();
        }
      } catch (error) {
        // Offline for a moment: keep what is shown and try again at the next tick.
      }
    }, seconds * 1000);
  });
}

// Forms marked data-confirm ask before they submit.
function confirmForms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

// A form submits once: its submit buttons are disabled after the first click.
function submitOnce() {
  document.querySelectorAll("form[method='post']").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return;
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "yes";
      form.querySelectorAll("button[type='submit']").forEach((button) => button.setAttribute("aria-disabled", "true"));
    });
  });
}

// Known merchant IDs are offered as buttons that add themselves to the merchant_ids field.
function merchantChips() {
  document.querySelectorAll("[data-merchant-chip]").forEach((chip) => {
    chip.addEventListener("click", () => {
      const field = document.getElementById(chip.dataset.target);
      const ids = field.value.split(/[\s,]+/).filter(Boolean);
      if (!ids.includes(chip.dataset.merchantChip)) ids.push(chip.dataset.merchantChip);
      field.value = ids.join("\n");
      field.focus();
    });
  });
}

// The organisation list follows the chosen key: only organisations that key can reach are offered.
function organisationFollowsKey() {
  const key = document.getElementById("id_key");
  const organisation = document.getElementById("id_organisation_id");
  if (!key || !organisation) return;
  const filter = () => {
    organisation.querySelectorAll("option[data-keys]").forEach((option) => {
      const reachable = option.dataset.keys.split(" ").includes(key.value);
      option.hidden = !reachable;
      option.disabled = !reachable;
    });
    const chosen = organisation.selectedOptions[0];
    if (chosen && chosen.disabled) organisation.value = "";
    document.querySelectorAll("[data-merchants-of]").forEach((group) => {
      group.hidden = group.dataset.merchantsOf !== organisation.value;
    });
  };
  key.addEventListener("change", filter);
  organisation.addEventListener("change", filter);
  filter();
}

document.addEventListener("DOMContentLoaded", () => {
  startLiveRefresh();
  confirmForms();
  submitOnce();
  merchantChips();
  organisationFollowsKey();
});
