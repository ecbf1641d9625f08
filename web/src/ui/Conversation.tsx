// One conversation: messages with live statuses, the composer (text or template), assign, close,
// and an AI agent's draft reply streamed into the composer.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { onInboxMessage } from "../api/inbox";
import { onResync } from "../api/live";
import {
  AssignConversationDocument,
  CloseConversationDocument,
  ConversationDocument,
  MarkConversationReadDocument,
  SendMessageDocument,
  TemplatesDocument,
  type MessageFieldsFragment,
} from "../gql/graphql";
import { useViewer } from "./App";
import { DraftReply } from "./DraftReply";
import { Field, FormErrors } from "./forms";

const TICKS: Record<string, string> = { QUEUED: "🕓", SENT: "✓", DELIVERED: "✓✓", READ: "✓✓", FAILED: "⚠" };

function upsert(list: MessageFieldsFragment[], message: MessageFieldsFragment): MessageFieldsFragment[] {
  const index = list.findIndex((m) => m.id === message.id || (m.clientMessageId && m.clientMessageId === message.clientMessageId));
  if (index === -1) return [...list, message].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const next = [...list];
  next[index] = message;
  return next;
}

export function ConversationView({ id }: { id: string }) {
  const viewer = useViewer();
  const [{ data }, refetch] = useQuery({ query: ConversationDocument, variables: { id }, requestPolicy: "network-only" });
  const conversation = data?.node?.__typename === "Conversation" ? data.node : null;
  const [messages, setMessages] = useState<MessageFieldsFragment[]>([]);
  const [text, setText] = useState("");
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [mode, setMode] = useState<"text" | "template">("text");
  const [template, setTemplate] = useState({ id: "", parameters: "" });
  const [{ data: templates }] = useQuery({
    query: TemplatesDocument,
    variables: { deviceId: conversation?.device.id ?? null },
    pause: !conversation,
  });
  const [, send] = useMutation(SendMessageDocument);
  const [, markRead] = useMutation(MarkConversationReadDocument);
  const [, assign] = useMutation(AssignConversationDocument);
  const [, close] = useMutation(CloseConversationDocument);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (conversation) setMessages(conversation.messages.nodes);
  }, [conversation]);
  useEffect(() => {
    if (conversation && conversation.unreadCount > 0) void markRead({ input: { conversationId: id } });
  }, [conversation, id, markRead]);
  useEffect(
    () =>
      onInboxMessage((message) => {
        if (message.conversation.id !== id) return;
        setMessages((current) => upsert(current, message));
        if (message.direction === "INBOUND") void markRead({ input: { conversationId: id } });
      }),
    [id, markRead],
  );
  // Statuses that changed while offline are not replayed: read the conversation again.
  useEffect(() => onResync(() => refetch({ requestPolicy: "network-only" })), [refetch]);
  useEffect(() => {
    // In braces: newer browsers' scrollIntoView returns a promise, which React would take for a cleanup.
    bottom.current?.scrollIntoView({ block: "end" });
  }, [messages.length]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setErrors(NO_ERRORS);
    const chosen = templates?.templates.nodes.find((t) => t.id === template.id);
    if (mode === "template" && !chosen) return setErrors({ byField: { template: "Pick a template." }, form: [] });
    const clientMessageId = crypto.randomUUID();
    const { data: sent, error } = await send({
      input:
        mode === "template" && chosen
          ? {
              conversationId: id,
              clientMessageId,
              template: {
                name: chosen.name,
                language: chosen.language,
                parameters: template.parameters ? template.parameters.split(",").map((p) => p.trim()) : [],
              },
            }
          : { conversationId: id, clientMessageId, text },
    });
    if (error) return setErrors(transportErrors(error));
    const payload = sent?.sendMessage;
    if (payload?.message) {
      const message = payload.message;
      setMessages((current) => upsert(current, message));
      setText("");
    }
    setErrors(fieldErrors(payload?.userErrors, ["text", "template", "conversationId"]));
  }

  if (!conversation) return <p className="empty">Loading…</p>;
  const members = viewer?.organization?.members.nodes ?? [];
  return (
    <div className="conversation" data-testid="conversation">
      <header className="conversation-head">
        <div>
          <h2>{conversation.contact.name ?? conversation.contact.phoneNumber}</h2>
          <small>
            {conversation.contact.phoneNumber} · {conversation.device.name} · {conversation.status.toLowerCase()}
            {!conversation.serviceWindowOpen && " · service window closed: templates only"}
          </small>
        </div>
        <select
          aria-label="Assignee"
          value={conversation.assignee?.id ?? ""}
          onChange={(e) => void assign({ input: { conversationId: id, assigneeId: e.target.value || null } })}
        >
          <option value="">Unassigned</option>
          {members.map((m) => (
            <option key={m.user.id} value={m.user.id}>
              {m.user.name}
            </option>
          ))}
        </select>
        <button disabled={conversation.status === "CLOSED"} onClick={() => void close({ input: { conversationId: id } })}>
          Close
        </button>
      </header>
      <ol className="messages" data-testid="messages">
        {messages.map((m) => (
          <li key={m.id} className={`bubble ${m.direction.toLowerCase()}`} data-message-id={m.id} data-status={m.status}>
            <p>{m.body ?? `[${m.type.toLowerCase()}]`}</p>
            <footer>
              <time>{new Date(m.createdAt).toLocaleTimeString()}</time>
              {m.direction === "OUTBOUND" && (
                <span className={`ticks ${m.status.toLowerCase()}`} title={m.errorMessage ?? m.status.toLowerCase()}>
                  {TICKS[m.status] ?? ""}
                </span>
              )}
            </footer>
          </li>
        ))}
        <div ref={bottom} />
      </ol>
      <form className="composer" onSubmit={submit}>
        <FormErrors errors={errors} />
        <div className="tabs">
          <button type="button" className={mode === "text" ? "active" : ""} onClick={() => setMode("text")}>
            Text
          </button>
          <button type="button" className={mode === "template" ? "active" : ""} onClick={() => setMode("template")}>
            Template
          </button>
        </div>
        {mode === "text" ? (
          <Field label="Reply" name="text" errors={errors}>
            <textarea name="reply" value={text} onChange={(e) => setText(e.target.value)} rows={3} />
          </Field>
        ) : (
          <>
            <Field label="Template" name="template" errors={errors}>
              <select value={template.id} onChange={(e) => setTemplate({ ...template, id: e.target.value })}>
                <option value="">Pick one</option>
                {templates?.templates.nodes.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name} ({t.language}){t.variables.length ? ` — ${t.variables.join(", ")}` : ""}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Parameters (comma-separated)" name="parameters" errors={errors}>
              <input value={template.parameters} onChange={(e) => setTemplate({ ...template, parameters: e.target.value })} />
            </Field>
          </>
        )}
        <button type="submit" className="primary">
          Send
        </button>
      </form>
      <DraftReply conversationId={id} onDraft={(draft) => { setMode("text"); setText(draft); }} />
    </div>
  );
}
