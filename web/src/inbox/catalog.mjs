// Registers the inbox's texts in fr, nl and en (one data module per language).
import { registerMessages } from "../ui/i18n.mjs";
import en from "./messages/en.mjs";
import fr from "./messages/fr.mjs";
import nl from "./messages/nl.mjs";

registerMessages("en", en);
registerMessages("fr", fr);
registerMessages("nl", nl);
