// The conversation list (unread counts, labels, assignee, live) with its filters, and the open
// conversation.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent } from "react";
import { useClient, useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { onInboxConversation, onInboxMessage, onInboxReset, useFeedReady } from "../api/inbox";
import {
  ConversationsDocument,
  CreateCannedResponseDocument,
  CreateLabelDocument,
  DevicesDocument,
  LabelsDocument,
  type ConversationRowFragment,
  type ConversationStatus,
} from "../gql/graphql";
import { useViewer } from "./App";
import { ConversationView } from "./Conversation";
import { FormErrors } from "./forms";
import { navigate, useRoute } from "./router";

const PAGE = 100;

type Filters = {
  status: ConversationStatus | null;
  assignedToMe: boolean;
  deviceId: string | null;
  labelId: string | null;
};

function newestFirst(a: ConversationRowFragment, b: ConversationRowFragment): number {
  return (b.lastMessageAt ?? "").localeCompare(a.lastMessageAt ?? "");
}

export function Inbox() {
  const [, openId] = useRoute();
  const viewer = useViewer();
  const client = useClient();
  const [filters, setFilters] = useState<Filters>({
    status: null,
    assignedToMe: false,
    deviceId: null,
    labelId: null,
  });
  const [rows, setRows] = useState<ConversationRowFragment[]>([]);
  const [more, setMore] = useState<string | null>(null);
  const variables = { first: PAGE, ...filters };
  const ready = useFeedReady();
  const [{ data, fetching, error }, refetch] = useQuery({ query: ConversationsDocument, variables, pause: !ready });
  const [{ data: devices }] = useQuery({ query: DevicesDocument });
  const [{ data: labels }, refetchLabels] = useQuery({ query: LabelsDocument });
  const isAdmin = ["ADMIN", "OWNER"].includes(viewer?.organization?.viewerRole ?? "");
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
      (!filters.assignedToMe || c.assignee?.id === viewer?.me?.id) &&
      (!filters.labelId || c.labels.some((l) => l.id === filters.labelId)),
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
  // Back from offline the feed replays every change since its cursor: nothing to reload, unless
  // the cursor expired.
  useEffect(() => onInboxReset(() => refetch({ requestPolicy: "network-only" })), [refetch]);

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
          <select
            aria-label="Label"
            value={filters.labelId ?? ""}
            onChange={(e) => setFilters({ ...filters, labelId: e.target.value || null })}
          >
            <option value="">All labels</option>
            {labels?.labels.map((l) => (
              <option key={l.id} value={l.id}>
                {l.name}
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
        {isAdmin && <NewLabel onCreated={() => refetchLabels({ requestPolicy: "network-only" })} />}
        {isAdmin && <NewCannedResponse />}
        {error && <p className="form-errors">{error.message}</p>}
        {ready && data && !fetching && rows.length === 0 && <p className="empty">No conversations yet.</p>}
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
              <div className="preview">{c.lastMessage?.body ?? (c.lastMessage ? `[${c.lastMessage.type.toLowerCase()}]` : "")}</div>
              {c.labels.length > 0 && <Labels labels={c.labels} />}
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

export function Labels({ labels }: { labels: ConversationRowFragment["labels"] }) {
  return (
    <span className="labels" data-testid="labels">
      {labels.map((l) => (
        <span key={l.id} className="label" style={{ background: l.color }}>
          {l.name}
        </span>
      ))}
    </span>
  );
}

/** An admin adds a label to the organization's list (createLabel is ADMIN+). */
function NewLabel({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [color, setColor] = useState("#3b82f6");
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateLabelDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const { data, error } = await create({ input: { name, color } });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.createLabel.userErrors, ["name", "color"]));
    if (data?.createLabel.label) {
      setName("");
      onCreated();
    }
  }

  return (
    <form className="new-label" onSubmit={submit} aria-label="New label">
      <input name="labelName" placeholder="New label" value={name} onChange={(e) => setName(e.target.value)} />
      <input name="labelColor" type="color" aria-label="Color" value={color} onChange={(e) => setColor(e.target.value)} />
      <button type="submit">Add</button>
      <FormErrors errors={errors} />
    </form>
  );
}

/** An admin saves a canned response (createCannedResponse is ADMIN+); agents send it by "/shortcut". */
function NewCannedResponse() {
  const [form, setForm] = useState({ shortcut: "", body: "" });
  const [saved, setSaved] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateCannedResponseDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const { data, error } = await create({ input: form });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.createCannedResponse.userErrors, ["shortcut", "body"]));
    const created = data?.createCannedResponse.cannedResponse;
    if (created) {
      setSaved(`/${created.shortcut}`);
      setForm({ shortcut: "", body: "" });
    }
  }

  return (
    <details className="new-canned">
      <summary>Canned responses</summary>
      <form onSubmit={submit} aria-label="New canned response">
        <input name="cannedShortcut" placeholder="shortcut" value={form.shortcut} onChange={(e) => setForm({ ...form, shortcut: e.target.value })} />
        <textarea
          name="cannedBody"
          placeholder="Text ({{contact.name}}, {{agent.name}} …)"
          rows={2}
          value={form.body}
          onChange={(e) => setForm({ ...form, body: e.target.value })}
        />
        <button type="submit">Save</button>
        {saved && <small data-testid="canned-saved">Saved: type {saved} in a reply.</small>}
        <FormErrors errors={errors} />
      </form>
    </details>
  );
}
