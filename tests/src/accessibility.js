// Accessibility checks run inside the page under test (WebDriver's
// execute). Returns a list of problems, each a sentence naming the element;
// an empty list means the page passed. What is checked, after WCAG 2.1 AA:
//  - the page has a language, a title and a first-level heading;
//  - every visible form control has a name a screen reader can announce
//    (its label, aria-label or aria-labelledby);
//  - every image has alternative text, every link and button a name;
//  - ids are unique, so label[for] points at one control;
//  - no two buttons share an accessible name unless they do the same
//    thing (the same form to the same address with the same fields): a
//    column of "Revoke" is a list of guesses to a screen reader;
//  - no positive tabindex, so the keyboard follows the reading order;
//  - visible text contrasts with what is behind it: 4.5:1, or 3:1 for
//    large text (24px, or 18.66px bold). Disabled controls are exempt, as
//    in WCAG.

const problems = [];

const describe = (el) => {
  let d = el.tagName.toLowerCase();
  if (el.id) d += `#${el.id}`;
  if (el.getAttribute("name")) d += `[name=${el.getAttribute("name")}]`;
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
  return text ? `${d} ("${text}")` : d;
};

const visible = (el) =>
  el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true }) &&
  el.getClientRects().length > 0;

if (!document.documentElement.lang) problems.push("the page declares no language (html lang)");
if (!document.title.trim()) problems.push("the page has no title");
if (!document.querySelector("h1")) problems.push("the page has no first-level heading");

const nameOf = (el) => {
  const labelled = el.getAttribute("aria-labelledby");
  if (labelled) {
    return labelled
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent || "")
      .join(" ")
      .trim();
  }
  const aria = el.getAttribute("aria-label");
  if (aria && aria.trim()) return aria.trim();
  if (el.labels && el.labels.length) {
    return Array.from(el.labels).map((l) => l.textContent).join(" ").trim();
  }
  return "";
};

for (const el of document.querySelectorAll("input, select, textarea")) {
  const type = (el.getAttribute("type") || "").toLowerCase();
  if (["hidden", "submit", "button", "reset", "image"].includes(type) || !visible(el)) continue;
  if (!nameOf(el)) problems.push(`the form control ${describe(el)} has no label`);
}

for (const img of document.querySelectorAll("img")) {
  if (!img.hasAttribute("alt")) problems.push(`the image ${img.getAttribute("src")} has no alt text`);
}

for (const el of document.querySelectorAll("a[href], button, input[type=submit], summary")) {
  if (!visible(el)) continue;
  const text = (el.textContent || el.value || "").trim();
  const alt = Array.from(el.querySelectorAll("img[alt]")).map((i) => i.alt).join("").trim();
  if (!text && !alt && !nameOf(el)) problems.push(`the control ${describe(el)} has no name`);
}

// What a button does: where its form goes, with which fields, and the
// button's own name and value.
const actOf = (button) => {
  const form = button.form;
  if (!form) return `no form: ${button.outerHTML}`;
  const fields = Array.from(form.querySelectorAll("input[type=hidden]"))
    .filter((i) => i.name !== "csrf_token")
    .map((i) => `${i.name}=${i.value}`)
    .sort()
    .join("&");
  return `${form.method} ${form.action} ${fields} ${button.name}=${button.value}`;
};
const buttonsByName = new Map();
for (const el of document.querySelectorAll("button, input[type=submit]")) {
  if (!visible(el)) continue;
  const name = (nameOf(el) || el.textContent || el.value || "").trim().replace(/\s+/g, " ");
  if (!name) continue;
  const acts = buttonsByName.get(name) || new Set();
  acts.add(actOf(el));
  buttonsByName.set(name, acts);
}
for (const [name, acts] of buttonsByName) {
  if (acts.size > 1) {
    problems.push(`${acts.size} buttons are all called "${name}" but do different things; name each for what it acts on`);
  }
}

const seen = new Map();
for (const el of document.querySelectorAll("[id]")) {
  if (seen.has(el.id)) problems.push(`the id "${el.id}" is used twice`);
  seen.set(el.id, el);
}

for (const el of document.querySelectorAll("[tabindex]")) {
  if (parseInt(el.getAttribute("tabindex"), 10) > 0) {
    problems.push(`${describe(el)} has a positive tabindex, which breaks the reading order`);
  }
}

// Colours as [r, g, b, a], channels 0-255 and alpha 0-1.
const parse = (css) => {
  const m = css.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const parts = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
};
const over = (top, bottom) => {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
};
const luminance = (c) => {
  const lin = c.slice(0, 3).map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
// What is painted behind an element: its own and its ancestors'
// background colours, composited down to the white canvas.
const backdrop = (el) => {
  const layers = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    const bg = parse(getComputedStyle(n).backgroundColor);
    if (bg && bg[3] > 0) {
      layers.push(bg);
      if (bg[3] >= 1) break;
    }
  }
  return layers.reduceRight((under, layer) => over(layer, under), [255, 255, 255, 1]);
};
const inert = (el) => el.closest("fieldset[disabled], [disabled], [aria-disabled=true]") !== null;

for (const el of document.querySelectorAll("body *")) {
  const ownText = Array.from(el.childNodes).some(
    (n) => n.nodeType === 3 && n.textContent.trim().length > 0,
  );
  const isField = el.matches("input:not([type=hidden]):not([type=color]), select, textarea");
  if ((!ownText && !isField) || !visible(el) || inert(el)) continue;
  const style = getComputedStyle(el);
  const fg = parse(style.color);
  if (!fg) continue;
  const bg = backdrop(el);
  const contrast = ratio(over(fg, bg), bg);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
  const needed = large ? 3 : 4.5;
  if (contrast < needed) {
    problems.push(
      `${describe(el)} has contrast ${contrast.toFixed(2)}:1 (${style.color} on rgb(${bg
        .slice(0, 3)
        .map(Math.round)
        .join(", ")})), needs ${needed}:1`,
    );
  }
}

return problems;
