// The roles offered to this account (a practice's admin offers one by e-mail in its
// membership box, membership.mjs), shown above the account's practices or in place of
// them: the practice by name, the role, Accept / Decline. An accepted offer stays
// here, saying what happens next, until the admin's next signed list names the
// account and the practice joins its list (ready() reads both again: "Check again").
//
// Declining is the API's withdrawal of consent (DELETE .../membership/consent): it
// drops the offer itself, so it is also how an accepted-but-unlisted role is refused.

import { h } from "../ui/dom.mjs";
import { t } from "../ui/i18n.mjs";
import { button, errorLine } from "../panel/forms.mjs";

/** The offers still to show: those not yet answered, and those accepted but not yet listed. */
export function openOffers(console_) {
  const listed = new Set(console_.mine.map((p) => p.practiceId));
  return console_.offers
    .filter((offer) => !listed.has(offer.practiceId))
    .sort((a, b) => a.name.localeCompare(b.name) || a.practiceId.localeCompare(b.practiceId));
}

/** Is an accepted offer still waiting for its admin's list? ("Check again" then helps.) */
export function awaitingList(console_) {
  return openOffers(console_).some((offer) => offer.accepted);
}

export function offersBox(console_) {
  const offers = openOffers(console_);
  if (!offers.length) return null;
  const errors = errorLine();
  return h(
    "section",
    { class: "practice-offers", "aria-labelledby": "pr-offers-title" },
    h("h2", { id: "pr-offers-title" }, t("offers.title")),
    errors,
    h(
      "ul",
      { class: "offer-list" },
      offers.map((offer) => offerItem(console_, offer, errors)),
    ),
  );
}

let nextId = 0;

function offerItem(console_, offer, errors) {
  const role = t(`practice.role.${offer.role}`);
  nextId += 1;
  const nameId = `pr-offer-${nextId}`; // each Accept / Decline is described by its practice
  const answer = async (work) => {
    await work(offer.practiceId);
    await console_.ready();
  };
  if (offer.accepted) {
    return h(
      "li",
      { class: "offer accepted" },
      h("span", { class: "offer-name" }, offer.name),
      h("span", { class: "offer-role" }, t("offers.accepted", { role })),
      h("p", { class: "offer-next" }, t("offers.next", { practice: offer.name })),
    );
  }
  return h(
    "li",
    { class: "offer" },
    h("span", { class: "offer-name", id: nameId }, offer.name),
    h("span", { class: "offer-role" }, t("offers.role", { role })),
    h(
      "div",
      { class: "actions" },
      described(button(t("offers.accept"), () => answer((id) => console_.practices.acceptOffer(id)), errors, "primary", `accept-${offer.practiceId}`), nameId),
      described(button(t("offers.decline"), () => answer((id) => console_.practices.declineOffer(id)), errors, null, `decline-${offer.practiceId}`), nameId),
    ),
  );
}

function described(el, id) {
  el.setAttribute("aria-describedby", id);
  return el;
}
