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
  "announcements.stop": "Stop prevention messages from this practice",
  "announcements.stopped": "You will receive no more prevention messages from this practice.",
  "announcements.again": "Receive them again",
  "announcements.again.done": "You will receive this practice's prevention messages again.",
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
  "announcements.stop": "Ne plus recevoir les messages de prévention de ce cabinet",
  "announcements.stopped": "Vous ne recevrez plus de messages de prévention de ce cabinet.",
  "announcements.again": "Les recevoir à nouveau",
  "announcements.again.done": "Vous recevrez à nouveau les messages de prévention de ce cabinet.",
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
  "announcements.stop": "Geen preventieberichten meer van deze praktijk",
  "announcements.stopped": "U ontvangt geen preventieberichten meer van deze praktijk.",
  "announcements.again": "Ze opnieuw ontvangen",
  "announcements.again.done": "U ontvangt de preventieberichten van deze praktijk opnieuw.",
});
