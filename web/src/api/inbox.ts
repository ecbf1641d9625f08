// The inbox's live feed, one per signed-in app: messages (resumable from the last cursor) and
// conversation changes, handed to whichever screens listen.
import {
  InboxConversationsDocument,
  InboxMessagesDocument,
  type ConversationRowFragment,
  type MessageEventKind,
  type MessageFieldsFragment,
} from "../gql/graphql";
import { subscribe } from "./live";

type MessageListener = (message: MessageFieldsFragment, kind: MessageEventKind) => void;
type ConversationListener = (conversation: ConversationRowFragment) => void;

const messageListeners = new Set<MessageListener>();
const conversationListeners = new Set<ConversationListener>();

/** The cursor of the last message event seen: a reconnect resumes after it, nothing missed. */
let cursor: string | null = null;

export function onInboxMessage(listener: MessageListener): () => void {
  messageListeners.add(listener);
  return () => messageListeners.delete(listener);
}

export function onInboxConversation(listener: ConversationListener): () => void {
  conversationListeners.add(listener);
  return () => conversationListeners.delete(listener);
}

export function startInboxFeed(): () => void {
  cursor = null;
  const stopMessages = subscribe(InboxMessagesDocument, () => ({ after: cursor }), {
    next: ({ messageEvents }) => {
      cursor = messageEvents.cursor;
      for (const listener of [...messageListeners]) listener(messageEvents.message, messageEvents.kind);
    },
  });
  const stopConversations = subscribe(InboxConversationsDocument, () => ({}), {
    next: ({ conversationEvents }) => {
      for (const listener of [...conversationListeners]) listener(conversationEvents.conversation);
    },
  });
  return () => {
    stopMessages();
    stopConversations();
  };
}
