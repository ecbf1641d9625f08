// The conversation list (unread counts, assignee, live) with its filters, and the open conversation.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { useClient, useQuery } from "urql";
import { onInboxConversation, onInboxMessage } from "../api/inbox";
import { onResync } from "../api/live";
import {
  ConversationsDocument,
  DevicesDocument,
  type ConversationRowFragment,
  type ConversationStatus,
} from "../gql/graphql";
import { useViewer } from "./App";
import { ConversationView } from "./Conversation";
import { navigate, useRoute } from "./router";

const PAGE = 100;

type Filters = { status: ConversationStatus | null; assignedToMe: boolean; deviceId: string | null };

function newestFirst(a: ConversationRowFragment, b: ConversationRowFragment): number {
  return (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? "");
}

export function Inbox() {
  const [, openId] = useRoute();
  const viewer = useViewer();
  const client = useClient();
  const [filters, setFilters] = useState<Filters>({ status: null, assignedToMe: false, deviceId: null });
  const [rows, setRows] = useState<ConversationRowFragment[]>([]);
  const [more, setMore] = useState<string | null>(null);
  const variables = { first: PAGE, ...filters };
  const [{ data, fetching, error }, refetch] = useQuery({ query: ConversationsDocument, variables });
  const [{ data: devices }] = useQuery({ query: DevicesDocument });
  const measured = useRef(false);

  useEffect(() => {
    if (!data) return;
    setRows(data.conversations.nodes);
    setMore(data.conversations.pageInfo.hasNextPage ? (data.conversations.pageInfo.endCursor ?? null) : null);
  }, [data]);

  // Time to interactive of the inbox: the first page is on screen and handlers are attached.
  useLayoutEffect(() => {
    if (data && !measured.current) {
      measured.current = true;
      performance.mark("inbox-interactive");
    }
  }, [data]);

  const matches = useCallback(
    (c: ConversationRowFragment) =>
      (!filters.status || c.status === filters.status) &&
      (!filters.deviceId || c.device.id === filters.deviceId) &&
      (!filters.assignedToMe || c.assignee?.id === viewer?.me?.id),
    [filters, viewer],
  );

  useEffect(
    () =>
      onInboxConversation((conversation) =>
        setRows((current) => {
          const others = current.filter((c) => c.id !== conversation.id);
          return matches(conversation) ? [conversation, ...others].sort(newestFirst) : others;
        }),
      ),
    [matches],
  );
  useEffect(
    () =>
      onInboxMessage((message) =>
        setRows((current) =>
          current.map((c) =>
            c.id === message.conversation.id && (!c.lastMessage || c.lastMessage.id === message.id || message.createdAt >= c.lastMessage.createdAt)
              ? { ...c, lastMessage: message, lastMessageAt: message.createdAt }
              : c,
          ),
        ),
      ),
    [],
  );
  // Back from offline: conversation changes are not replayed, so read the list again.
  useEffect(() => onResync(() => refetch({ requestPolicy: "network-only" })), [refetch]);

  async function loadMore() {
    if (!more) return;
    const result = await client.query(ConversationsDocument, { ...variables, after: more }).toPromise();
    const page = result.data?.conversations;
    if (!page) return;
    setRows((current) => [...current, ...page.nodes.filter((n) => !current.some((c) => c.id === n.id))]);
    setMore(page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null);
  }

  return (
    <div className="inbox">
      <aside className="conversation-list" aria-label="Conversations">
        <div className="filters">
          <select
            aria-label="Status"
            value={filters.status ?? ""}
            onChange={(e) => setFilters({ ...filters, status: (e.target.value || null) as ConversationStatus | null })}
          >
            <option value="">All</option>
            <option value="OPEN">Open</option>
            <option value="PENDING">Pending</option>
            <option value="CLOSED">Closed</option>
          </select>
          <select
            aria-label="Device"
            value={filters.deviceId ?? ""}
            onChange={(e) => setFilters({ ...filters, deviceId: e.target.value || null })}
          >
            <option value="">All numbers</option>
            {devices?.devices.nodes.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
          <label className="check">
            <input
              type="checkbox"
              checked={filters.assignedToMe}
              onChange={(e) => setFilters({ ...filters, assignedToMe: e.target.checked })}
            />
            Mine
          </label>
        </div>
        {error && <p className="form-errors">{error.message}</p>}
        {!fetching && rows.length === 0 && <p className="empty">No conversations yet.</p>}
        <ul data-testid="conversations">
          {rows.map((c) => (
            <li
              key={c.id}
              data-conversation-id={c.id}
              className={c.id === openId ? "row open" : "row"}
              onClick={() => navigate(`inbox/${c.id}`)}
            >
              <div className="row-top">
                <strong>{c.contact.name ?? c.contact.phoneNumber}</strong>
                {c.unreadCount > 0 && (
                  <span className="unread" data-testid="unread">
                    {c.unreadCount}
                  </span>
                )}
              </div>
              <div className="preview">{c.lastMessage?.body ?? ""}</div>
              <div className="meta">
                <span>{c.status.toLowerCase()}</span>
                <span>{c.assignee ? `→ ${c.assignee.name}` : "unassigned"}</span>
                <time>{c.lastMessageAt ? new Date(c.lastMessageAt).toLocaleTimeString() : ""}</time>
              </div>
            </li>
          ))}
        </ul>
        {more && (
          <button className="more" onClick={loadMore}>
            Load more
          </button>
        )}
      </aside>
      <section className="conversation-pane">
        {openId ? <ConversationView key={openId} id={openId} /> : <p className="empty">Pick a conversation.</p>}
      </section>
    </div>
  );
}
