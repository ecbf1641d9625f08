// The inbox's live feed, one per signed-in app: every change of the organization's inbox
// (messages created, statuses, edits; conversations created, read, assigned, labelled, closed)
// in order, handed to whichever screens listen.
//
// Gap-free: before the screens load anything, `inboxChanges.headCursor` says where the log
// stands; the feed subscribes with `inboxEvents(after: <that cursor>)` and keeps the cursor of
// every event it applies. After a lost socket (or a fresh token) it subscribes again with
// `after: <last cursor>`: the server replays the changes since then, then goes live — nothing is
// missed and nothing is read twice, so no screen reloads. Only a cursor older than the server's
// retention window (CURSOR_EXPIRED) makes the screens read everything again (`onInboxReset`).
import { useClient, type Client } from "urql";
import {
  InboxEventsDocument,
  InboxHeadDocument,
  type ConversationRowFragment,
  type InboxEventKind,
  type MessageFieldsFragment,
} from "../gql/graphql";
import { subscribe } from "./live";
import { Store, useStore } from "./store";

type MessageListener = (message: MessageFieldsFragment, kind: InboxEventKind) => void;
type ConversationListener = (conversation: ConversationRowFragment, kind: InboxEventKind) => void;

const messageListeners = new Set<MessageListener>();
const conversationListeners = new Set<ConversationListener>();
const resetListeners = new Set<() => void>();

/** The cursor of the last change applied: a (re)subscription resumes after it. */
let cursor: string | null = null;

/** The client whose feed knows where the log stands: screens read what they show only once it
 * is theirs (`useFeedReady`), so every change after their read is replayed to them (read before
 * it, one could be missed). Per client, not a flag: after a switch of organization the new
 * screens render before the new feed starts, and must not take the old feed's readiness for
 * theirs (they would read, be paused when the new feed starts, and be unpaused again). */
export const feedReady = new Store<Client | null>(null);

export function useFeedReady(): boolean {
  return useStore(feedReady) === useClient();
}

export function onInboxMessage(listener: MessageListener): () => void {
  messageListeners.add(listener);
  return () => messageListeners.delete(listener);
}

export function onInboxConversation(listener: ConversationListener): () => void {
  conversationListeners.add(listener);
  return () => conversationListeners.delete(listener);
}

/** The feed could not resume (its cursor expired): read the list and the open conversation again. */
export function onInboxReset(listener: () => void): () => void {
  resetListeners.add(listener);
  return () => resetListeners.delete(listener);
}

export function startInboxFeed(client: Client): () => void {
  let stopped = false;
  let stop: (() => void) | null = null;
  cursor = null;
  if (feedReady.get() !== null) feedReady.set(null);
  void client
    .query(InboxHeadDocument, {}, { requestPolicy: "network-only" })
    .toPromise()
    .then((head) => {
      if (stopped) return;
      // Without a head (the API unreachable) the feed starts live, from whenever it connects.
      cursor = head.data?.inboxChanges.headCursor ?? null;
      feedReady.set(client);
      stop = subscribe(
        InboxEventsDocument,
        () => ({ after: cursor }),
        {
          next: ({ inboxEvents: event }) => {
            cursor = event.cursor;
            if (event.message) for (const listener of [...messageListeners]) listener(event.message, event.kind);
            if (event.conversation) for (const listener of [...conversationListeners]) listener(event.conversation, event.kind);
          },
          error: (_message, code) => {
            if (code !== "CURSOR_EXPIRED") return;
            cursor = null; // start from now, and let the screens read what they show again
            for (const listener of [...resetListeners]) listener();
          },
        },
      );
    });
  return () => {
    stopped = true;
    stop?.();
    if (feedReady.get() === client) feedReady.set(null);
  };
}
