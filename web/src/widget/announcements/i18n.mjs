// The texts of the practice announcements view (fr/nl/en).
import { registerMessages } from "../../ui/i18n.mjs";

registerMessages("en", {
  "menu.announcements": "Announcements",
  "announcements.title": "Practice announcements",
  "announcements.lead": "Messages your practice sends to its patients. You cannot reply here.",
  "announcements.none": "No announcement yet.",
  "announcements.new": "New",
  "announcements.open": "Read",
  "announcements.unreadable": "This announcement cannot be opened on this browser.",
  "announcements.received": "Received {at}",
  "announcements.back": "Back",
  "announcements.consent": "You receive a practice's prevention messages only if you agree to them; you can withdraw at any time.",
});

registerMessages("fr", {
  "menu.announcements": "Annonces",
  "announcements.title": "Annonces du cabinet",
  "announcements.lead": "Les messages que votre cabinet envoie à ses patients. Vous ne pouvez pas y répondre ici.",
  "announcements.none": "Aucune annonce pour l'instant.",
  "announcements.new": "Nouveau",
  "announcements.open": "Lire",
  "announcements.unreadable": "Cette annonce ne peut pas être ouverte dans ce navigateur.",
  "announcements.received": "Reçue le {at}",
  "announcements.back": "Retour",
  "announcements.consent": "Vous ne recevez les messages de prévention d'un cabinet que si vous les acceptez ; vous pouvez retirer votre accord à tout moment.",
});

registerMessages("nl", {
  "menu.announcements": "Berichten",
  "announcements.title": "Berichten van de praktijk",
  "announcements.lead": "Berichten die uw praktijk naar haar patiënten stuurt. U kunt hier niet antwoorden.",
  "announcements.none": "Nog geen berichten.",
  "announcements.new": "Nieuw",
  "announcements.open": "Lezen",
  "announcements.unreadable": "Dit bericht kan in deze browser niet worden geopend.",
  "announcements.received": "Ontvangen {at}",
  "announcements.back": "Terug",
  "announcements.consent": "U ontvangt de preventieberichten van een praktijk alleen als u ermee instemt; u kunt dat altijd intrekken.",
});
