// Paystatus: a little progressive enhancement. Every page works without it.
"use strict";

// What has keyboard focus inside a region, as a selector that finds the same control in fresh HTML.
function focusKey(region) {
  const active = document.activeElement;
  if (!active || active === document.body || !region.contains(active)) return null;
  if (active.id) return { selector: `#${CSS.escape(active.id)}`, index: 0 };
  for (const attribute of ["href", "name", "data-count"]) {
    const value = active.getAttribute(attribute);
    if (value === null) continue;
    const selector = `${active.tagName.toLowerCase()}[${attribute}="${CSS.escape(value)}"]`;
    return { selector, index: [...region.querySelectorAll(selector)].indexOf(active) };
  }
  return null;
}

// Put fresh HTML into a live region without moving the reader: keyboard focus, the page's
// scroll position and each table's sideways scroll stay where they were.
function replaceKeepingPlace(region, html) {
  const key = focusKey(region);
  const x = window.scrollX;
  const y = window.scrollY;
  const sideways = [...region.querySelectorAll("[id].table-responsive")].map((box) => [box.id, box.scrollLeft]);
  // Rows ticked for a form outside the region ("Move to project") stay ticked.
  const ticked = [...region.querySelectorAll("input[type=checkbox][form]:checked")].map((box) => [box.name, box.value]);
  region.innerHTML = html;
  ticked.forEach(([name, value]) => {
    const box = region.querySelector(`input[type=checkbox][name="${CSS.escape(name)}"][value="${CSS.escape(value)}"]`);
    if (box) box.checked = true;
  });
  sideways.forEach(([id, left]) => {
    const box = document.getElementById(id);
    if (box) box.scrollLeft = left;
  });
  if (key) {
    const matches = region.querySelectorAll(key.selector);
    const again = matches[Math.max(key.index, 0)] || matches[0];
    if (again) again.focus({ preventScroll: true });
  }
  window.scrollTo(x, y);
}

// Live regions refresh themselves every N seconds without a full reload (keeps filters, paging,
// focus and scroll). The overview asks for its fragment; other pages fetch themselves and take
// the region with the same id. Only a short summary line (data-summary-target) is aria-live, so a
// screen reader hears one sentence when it changes, not the whole table every 30 s.
function startLiveRefresh() {
  document.querySelectorAll("[data-refresh-seconds]").forEach((region) => {
    const seconds = Number(region.dataset.refreshSeconds) || 30;
    region.dataset.refreshedAt = "";
    let refreshed = Date.now();
    const updated = document.querySelector(`[data-updated-of="${region.id}"]`);
    if (updated) {
      setInterval(() => {
        const age = Math.round((Date.now() - refreshed) / 1000);
        updated.textContent = age < 120 ? `Updated ${age} s ago` : `Updated ${Math.round(age / 60)} min ago`;
      }, 1000);
    }
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
        if (!response.ok) return;
        const html = await response.text();
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
        replaceKeepingPlace(region, fresh ? fresh.innerHTML : html);
        const target = document.getElementById(region.dataset.summaryTarget || "");
        const summary = region.querySelector("[data-summary]");
        if (target && summary && target.textContent !== summary.textContent) target.textContent = summary.textContent;
        refreshed = Date.now();
        if (updated) updated.textContent = "Updated 0 s ago";
        region.dataset.refreshedAt = new Date().toISOString();
      } catch (error) {
        // Offline for a moment: keep what is shown and try again at the next tick.
      }
    }, seconds * 1000);
  });
}

// Forms marked data-confirm ask before they submit; a form submits once (its submit buttons are
// disabled after the first click). Delegated, so forms inside a refreshed region keep both.
function guardForms() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if ((form.getAttribute("method") || "").toLowerCase() !== "post") return;
    if (form.dataset.submitted) {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "yes";
    form.querySelectorAll("button[type='submit']").forEach((button) => button.setAttribute("aria-disabled", "true"));
  });
}

// Buttons with data-toggle show and hide a collapsed block (the menu and the filters on a phone).
function toggles() {
  document.querySelectorAll("[data-toggle]").forEach((button) => {
    const target = document.getElementById(button.dataset.toggle);
    if (!target) return;
    button.addEventListener("click", () => {
      const open = target.classList.toggle("show");
      button.setAttribute("aria-expanded", String(open));
    });
  });
}

// The theme toggle: dark or light, remembered in this browser (static/theme.js applies it).
function themeToggle() {
  const root = document.documentElement;
  const show = () => {
    document.querySelectorAll("[data-theme-toggle]").forEach((button) => {
      button.setAttribute("aria-pressed", String(root.dataset.bsTheme === "dark"));
    });
  };
  document.querySelectorAll("[data-theme-toggle]").forEach((button) => {
    button.addEventListener("click", () => {
      root.dataset.bsTheme = root.dataset.bsTheme === "dark" ? "light" : "dark";
      try {
        window.localStorage.setItem("paystatus-theme", root.dataset.bsTheme);
      } catch (error) {
        // Not remembered; this page still switches.
      }
      show();
    });
  });
  show();
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
  guardForms();
  toggles();
  themeToggle();
  merchantChips();
  organisationFollowsKey();
});
