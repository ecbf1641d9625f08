// Routes are the path under the app's base (`/app/`): "", "inbox/<id>", "devices", ...
import { Store, useStore } from "../api/store";

const BASE = import.meta.env.BASE_URL;

function current(): string {
  const path = window.location.pathname;
  return path.startsWith(BASE) ? path.slice(BASE.length) : "";
}

export const route = new Store(current());
window.addEventListener("popstate", () => route.set(current()));

export function navigate(path: string): void {
  window.history.pushState(null, "", BASE + path);
  route.set(current());
}

export function useRoute(): string[] {
  return useStore(route).split("/").filter(Boolean);
}
