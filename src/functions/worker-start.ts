/** Worker start-up: the app settings are parsed once, when the host starts the worker, so a bad one is reported then. */
import { app } from "@azure/functions";
import { startWorker } from "../composition";

app.hook.appStart(() => startWorker());
