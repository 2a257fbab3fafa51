// Pages without their own script: the navigation marks where the visitor is.
import { markCurrentNav } from "../ui.js";

markCurrentNav();
