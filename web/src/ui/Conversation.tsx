// One conversation: messages (media from their signed URLs, quoted replies, reactions) with live
// statuses and its private notes in one timeline; labels, assign, close; the composer (text, a
// file, a canned response by "/shortcut", a quoted reply, a template with header and buttons, a
// note); an AI agent's draft reply streamed into the composer.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { onInboxConversation, onInboxMessage, onInboxReset, useFeedReady } from "../api/inbox";
import {
  AddConversationNoteDocument,
  AssignConversationDocument,
  CannedResponsesDocument,
  CloseConversationDocument,
  ConversationDocument,
  LabelsDocument,
  MarkConversationReadDocument,
  ReactToMessageDocument,
  SendMessageDocument,
  SetConversationLabelsDocument,
  TemplatesDocument,
  UploadMediaDocument,
  type ConversationRowFragment,
  type MediaFieldsFragment,
  type MessageFieldsFragment,
  type NoteFieldsFragment,
  type SendMessageInput,
  type TemplateButtonSubType,
  type TemplateMessageInput,
} from "../gql/graphql";
import { useViewer } from "./App";
import { DraftReply } from "./DraftReply";
import { Field, FormErrors } from "./forms";
import { Labels } from "./Inbox";

const TICKS: Record<string, string> = { QUEUED: "🕓", SENT: "✓", DELIVERED: "✓✓", READ: "✓✓", FAILED: "⚠" };
const REACTIONS = ["👍", "❤️", "😂", "🙏"];

type Mode = "text" | "template" | "note";
type Entry = { kind: "message"; at: string; message: MessageFieldsFragment } | { kind: "note"; at: string; note: NoteFieldsFragment };
type TemplateForm = {
  id: string;
  parameters: string;
  header: "none" | "text" | "link" | "file";
  headerValue: string;
  headerFile: File | null;
  buttons: { index: number; subType: TemplateButtonSubType; parameter: string }[];
};
const NO_TEMPLATE: TemplateForm = { id: "", parameters: "", header: "none", headerValue: "", headerFile: null, buttons: [] };

function upsert(list: MessageFieldsFragment[], message: MessageFieldsFragment): MessageFieldsFragment[] {
  const index = list.findIndex((m) => m.id === message.id || (m.clientMessageId && m.clientMessageId === message.clientMessageId));
  if (index === -1) return [...list, message].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const next = [...list];
  next[index] = message;
  return next;
}

/** The customer's file or ours, from its signed URL (no Authorization header needed). */
function Media({ media }: { media: MediaFieldsFragment }) {
  const name = media.fileName ?? media.mimeType;
  switch (media.kind) {
    case "IMAGE":
    case "STICKER":
      return <img className="media" src={media.url} alt={name} data-testid="media-image" />;
    case "AUDIO":
      return <audio className="media" src={media.url} controls />;
    case "VIDEO":
      return <video className="media" src={media.url} controls />;
    default:
      return (
        <a className="media-doc" href={media.url} download={media.fileName ?? undefined} target="_blank" rel="noreferrer">
          📄 {name} ({Math.ceil(media.size / 1024)} KiB)
        </a>
      );
  }
}

export function ConversationView({ id }: { id: string }) {
  const viewer = useViewer();
  const ready = useFeedReady();
  const [{ data }, refetch] = useQuery({
    query: ConversationDocument,
    variables: { id },
    requestPolicy: "network-only",
    pause: !ready,
  });
  const conversation = data?.node?.__typename === "Conversation" ? data.node : null;
  const [messages, setMessages] = useState<MessageFieldsFragment[]>([]);
  const [notes, setNotes] = useState<NoteFieldsFragment[]>([]);
  const [row, setRow] = useState<ConversationRowFragment | null>(null);
  const [text, setText] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [replyTo, setReplyTo] = useState<MessageFieldsFragment | null>(null);
  const [canned, setCanned] = useState<{ id: string; shortcut: string; body: string } | null>(null);
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [mode, setMode] = useState<Mode>("text");
  const [sending, setSending] = useState(false);
  const [template, setTemplate] = useState<TemplateForm>(NO_TEMPLATE);
  const fileInput = useRef<HTMLInputElement>(null);
  const [{ data: templates }] = useQuery({
    query: TemplatesDocument,
    variables: { deviceId: conversation?.device.id ?? null },
    pause: !conversation,
  });
  const [{ data: labels }] = useQuery({ query: LabelsDocument });
  // "/ship" in the composer looks the organization's canned responses up by their shortcut.
  const shortcut = mode === "text" && !canned && /^\/\S*$/.test(text) ? text.slice(1) : null;
  const [{ data: suggestions }] = useQuery({
    query: CannedResponsesDocument,
    variables: { search: shortcut ?? "" },
    pause: shortcut === null,
  });
  const [, send] = useMutation(SendMessageDocument);
  const [, upload] = useMutation(UploadMediaDocument);
  const [, react] = useMutation(ReactToMessageDocument);
  const [, addNote] = useMutation(AddConversationNoteDocument);
  const [, setLabels] = useMutation(SetConversationLabelsDocument);
  const [, markRead] = useMutation(MarkConversationReadDocument);
  const [, assign] = useMutation(AssignConversationDocument);
  const [, close] = useMutation(CloseConversationDocument);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!conversation) return;
    setMessages(conversation.messages.nodes);
    setNotes(conversation.notes.nodes);
    setRow(conversation);
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
  useEffect(() => onInboxConversation((changed) => changed.id === id && setRow(changed)), [id]);
  // The feed replays statuses changed while offline; only an expired cursor reads it all again.
  useEffect(() => onInboxReset(() => refetch({ requestPolicy: "network-only" })), [refetch]);
  const timeline: Entry[] = [
    // A reaction is a message at WhatsApp; here it is shown on the message it reacts to.
    ...messages.filter((m) => m.type !== "REACTION").map((m): Entry => ({ kind: "message", at: m.createdAt, message: m })),
    ...notes.map((n): Entry => ({ kind: "note", at: n.createdAt, note: n })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  useEffect(() => {
    // In braces: newer browsers' scrollIntoView returns a promise, which React would take for a cleanup.
    bottom.current?.scrollIntoView({ block: "end" });
  }, [timeline.length]);

  /** The chosen file stored with uploadMedia (a GraphQL multipart request, sent by its hash). */
  async function uploaded(chosen: File): Promise<MediaFieldsFragment | null> {
    const { data: result, error } = await upload({ input: { file: chosen } });
    if (error) {
      setErrors(transportErrors(error));
      return null;
    }
    const payload = result?.uploadMedia;
    if (!payload?.mediaFile) {
      setErrors(fieldErrors(payload?.userErrors, ["file"]));
      return null;
    }
    return payload.mediaFile;
  }

  async function templateInput(): Promise<TemplateMessageInput | null> {
    const chosen = templates?.templates.nodes.find((t) => t.id === template.id);
    if (!chosen) {
      setErrors({ byField: { template: "Pick a template." }, form: [] });
      return null;
    }
    let header: TemplateMessageInput["header"] = null;
    if (template.header === "text") header = { text: template.headerValue };
    if (template.header === "link") header = { link: template.headerValue };
    if (template.header === "file") {
      if (!template.headerFile) {
        setErrors({ byField: { header: "Choose the header's file." }, form: [] });
        return null;
      }
      const media = await uploaded(template.headerFile);
      if (!media) return null;
      header = { mediaFileId: media.id };
    }
    return {
      name: chosen.name,
      language: chosen.language,
      parameters: template.parameters ? template.parameters.split(",").map((p) => p.trim()) : [],
      header,
      buttons: template.buttons.length ? template.buttons : null,
    };
  }

  async function messageInput(clientMessageId: string): Promise<SendMessageInput | null> {
    const base = { conversationId: id, clientMessageId, replyToMessageId: replyTo?.id ?? null };
    if (mode === "template") {
      const chosen = await templateInput();
      return chosen && { ...base, template: chosen };
    }
    if (canned) return { ...base, cannedResponseId: canned.id };
    if (file) {
      const media = await uploaded(file);
      if (!media) return null;
      return {
        ...base,
        media: { kind: media.kind, mediaFileId: media.id, caption: text || null, filename: media.kind === "DOCUMENT" ? media.fileName : null },
      };
    }
    return { ...base, text };
  }

  function resetComposer() {
    setText("");
    setFile(null);
    setReplyTo(null);
    setCanned(null);
    if (fileInput.current) fileInput.current.value = "";
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (sending) return;
    setErrors(NO_ERRORS);
    setSending(true);
    try {
      if (mode === "note") {
        const { data: added, error } = await addNote({ input: { conversationId: id, body: text } });
        if (error) return setErrors(transportErrors(error));
        const note = added?.addConversationNote.note;
        if (note) {
          setNotes((current) => [...current, note]);
          setText("");
        }
        return setErrors(fieldErrors(added?.addConversationNote.userErrors, ["body"]));
      }
      const input = await messageInput(crypto.randomUUID());
      if (!input) return;
      const { data: sent, error } = await send({ input });
      if (error) return setErrors(transportErrors(error));
      const payload = sent?.sendMessage;
      if (payload?.message) {
        const message = payload.message;
        setMessages((current) => upsert(current, message));
        resetComposer();
      }
      setErrors(fieldErrors(payload?.userErrors, ["text", "template", "media", "conversationId", "cannedResponseId", "replyToMessageId"]));
    } finally {
      setSending(false);
    }
  }

  async function toggleLabel(labelId: string, on: boolean) {
    const current = (row?.labels ?? []).map((l) => l.id);
    const labelIds = on ? [...current, labelId] : current.filter((l) => l !== labelId);
    const { data: result, error } = await setLabels({ input: { conversationId: id, labelIds } });
    if (error) return setErrors(transportErrors(error));
    if (result?.setConversationLabels.conversation) setRow(result.setConversationLabels.conversation);
    setErrors(fieldErrors(result?.setConversationLabels.userErrors, ["labelIds"]));
  }

  async function reactTo(message: MessageFieldsFragment, emoji: string) {
    const { data: result, error } = await react({ input: { messageId: message.id, emoji } });
    if (error) return setErrors(transportErrors(error));
    if (result?.reactToMessage.message) setMessages((current) => upsert(current, result.reactToMessage.message!));
    setErrors(fieldErrors(result?.reactToMessage.userErrors, ["emoji"]));
  }

  if (!conversation || !row) return <p className="empty">Loading…</p>;
  const members = viewer?.organization?.members.nodes ?? [];
  const chosenTemplate = templates?.templates.nodes.find((t) => t.id === template.id);
  return (
    <div className="conversation" data-testid="conversation">
      <header className="conversation-head">
        <div>
          <h2>{row.contact.name ?? row.contact.phoneNumber}</h2>
          <small>
            {row.contact.phoneNumber} · {row.device.name} · {row.status.toLowerCase()}
            {!row.serviceWindowOpen && " · service window closed: templates only"}
          </small>
          <Labels labels={row.labels} />
        </div>
        <details className="label-picker">
          <summary>Labels</summary>
          {labels?.labels.length === 0 && <small>No labels yet (an admin adds them above the list).</small>}
          {labels?.labels.map((l) => (
            <label key={l.id} className="check">
              <input
                type="checkbox"
                name={`label-${l.name}`}
                checked={row.labels.some((c) => c.id === l.id)}
                onChange={(e) => void toggleLabel(l.id, e.target.checked)}
              />
              {l.name}
            </label>
          ))}
        </details>
        <select
          aria-label="Assignee"
          value={row.assignee?.id ?? ""}
          onChange={(e) => void assign({ input: { conversationId: id, assigneeId: e.target.value || null } })}
        >
          <option value="">Unassigned</option>
          {members.map((m) => (
            <option key={m.user.id} value={m.user.id}>
              {m.user.name}
            </option>
          ))}
        </select>
        <button disabled={row.status === "CLOSED"} onClick={() => void close({ input: { conversationId: id } })}>
          Close
        </button>
      </header>
      <ol className="messages" data-testid="messages">
        {timeline.map((entry) =>
          entry.kind === "note" ? (
            <li key={`note-${entry.note.id}`} className="note" data-note-id={entry.note.id}>
              <p>{entry.note.body}</p>
              <footer>
                <span>note · {entry.note.author?.name ?? "someone"}</span>
                <time>{new Date(entry.note.createdAt).toLocaleTimeString()}</time>
              </footer>
            </li>
          ) : (
            <MessageBubble
              key={entry.message.id}
              message={entry.message}
              templates={templates?.templates.nodes ?? []}
              onReply={() => {
                setMode("text");
                setReplyTo(entry.message);
              }}
              onReact={(emoji) => void reactTo(entry.message, emoji)}
            />
          ),
        )}
        <div ref={bottom} />
      </ol>
      <form className="composer" onSubmit={submit}>
        <FormErrors errors={errors} />
        <div className="tabs">
          {(["text", "template", "note"] as const).map((m) => (
            <button key={m} type="button" className={mode === m ? "active" : ""} onClick={() => setMode(m)}>
              {m === "text" ? "Text" : m === "template" ? "Template" : "Note"}
            </button>
          ))}
        </div>
        {replyTo && mode === "text" && (
          <div className="quoting" data-testid="quoting">
            ↩ {replyTo.body ?? `[${replyTo.type.toLowerCase()}]`}
            <button type="button" onClick={() => setReplyTo(null)} aria-label="Do not quote">
              ×
            </button>
          </div>
        )}
        {mode === "note" && (
          <Field label="Private note (never sent)" name="body" errors={errors}>
            <textarea name="note" value={text} onChange={(e) => setText(e.target.value)} rows={3} />
          </Field>
        )}
        {mode === "text" &&
          (canned ? (
            <div className="canned" data-testid="canned-chosen">
              <strong>/{canned.shortcut}</strong> {canned.body}
              <button type="button" onClick={() => setCanned(null)} aria-label="Not this one">
                ×
              </button>
            </div>
          ) : (
            <Field label="Reply (/shortcut for a canned response)" name="text" errors={errors}>
              <textarea name="reply" value={text} onChange={(e) => setText(e.target.value)} rows={3} />
            </Field>
          ))}
        {shortcut !== null && (suggestions?.cannedResponses.nodes.length ?? 0) > 0 && (
          <ul className="suggestions" data-testid="canned-suggestions">
            {suggestions?.cannedResponses.nodes.map((c) => (
              <li key={c.id}>
                <button
                  type="button"
                  onClick={() => {
                    setCanned(c);
                    setText("");
                  }}
                >
                  <strong>/{c.shortcut}</strong> {c.body}
                </button>
              </li>
            ))}
          </ul>
        )}
        {mode === "text" && !canned && (
          <Field label="File (caption: the reply)" name="media" errors={errors}>
            <input ref={fileInput} type="file" name="file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </Field>
        )}
        {mode === "template" && (
          <>
            <Field label="Template" name="template" errors={errors}>
              <select value={template.id} onChange={(e) => setTemplate({ ...NO_TEMPLATE, id: e.target.value })}>
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
            {chosenTemplate && (
              <TemplateExtras
                template={template}
                components={chosenTemplate.components}
                errors={errors}
                onChange={setTemplate}
              />
            )}
          </>
        )}
        <button type="submit" className="primary" disabled={sending}>
          {mode === "note" ? "Add note" : "Send"}
        </button>
      </form>
      <DraftReply
        conversationId={id}
        onDraft={(draft) => {
          setMode("text");
          setCanned(null);
          setText(draft);
        }}
      />
    </div>
  );
}

type TemplateLike = { name: string; language: string; components: unknown };

/** A template message as the customer reads it: the template's body with the message's
 * parameters (`payload`: `{name, language, parameters}`) in place of `{{1}}`, `{{2}}`, … */
function templateText(m: MessageFieldsFragment, templates: readonly TemplateLike[]): string | null {
  if (m.type !== "TEMPLATE") return null;
  const sent = (m.payload ?? {}) as { name?: string; language?: string; parameters?: string[] };
  const template = templates.find((t) => t.name === sent.name && t.language === sent.language);
  const components = (Array.isArray(template?.components) ? template.components : []) as { type?: string; text?: string }[];
  const body = components.find((c) => c.type?.toUpperCase() === "BODY")?.text;
  if (!body) return sent.name ? `[template ${sent.name}]` : null;
  return body.replace(/\{\{(\d+)\}\}/g, (whole, n: string) => sent.parameters?.[Number(n) - 1] ?? whole);
}

function MessageBubble(props: {
  message: MessageFieldsFragment;
  templates: readonly TemplateLike[];
  onReply: () => void;
  onReact: (emoji: string) => void;
}) {
  const m = props.message;
  const text = m.body ?? templateText(m, props.templates);
  return (
    <li className={`bubble ${m.direction.toLowerCase()}`} data-message-id={m.id} data-status={m.status}>
      {m.replyTo && (
        <blockquote className="quoted" data-testid="quoted">
          {m.replyTo.body ?? `[${m.replyTo.type.toLowerCase()}]`}
        </blockquote>
      )}
      {m.media && <Media media={m.media} />}
      {(text || !m.media) && <p>{text ?? `[${m.type.toLowerCase()}]`}</p>}
      {m.reactions.length > 0 && (
        <span className="reactions" data-testid="reactions">
          {m.reactions.map((r) => (
            <span key={r.direction} title={r.direction === "INBOUND" ? "the customer" : "us"}>
              {r.emoji}
            </span>
          ))}
        </span>
      )}
      <footer>
        <time>{new Date(m.createdAt).toLocaleTimeString()}</time>
        {m.direction === "OUTBOUND" && (
          <span className={`ticks ${m.status.toLowerCase()}`} title={m.errorMessage ?? m.status.toLowerCase()}>
            {TICKS[m.status] ?? ""}
          </span>
        )}
        <span className="actions">
          <button type="button" onClick={props.onReply} aria-label="Reply to this message">
            ↩
          </button>
          {m.direction === "INBOUND" &&
            REACTIONS.map((emoji) => (
              <button key={emoji} type="button" onClick={() => props.onReact(emoji)} aria-label={`React ${emoji}`}>
                {emoji}
              </button>
            ))}
        </span>
      </footer>
    </li>
  );
}

type Component = { type?: string; format?: string; buttons?: { type?: string }[] };

/** The template's header (text, a link or a file of ours) and its buttons' parameters. */
function TemplateExtras(props: {
  template: TemplateForm;
  components: unknown;
  errors: FieldErrors;
  onChange: (template: TemplateForm) => void;
}) {
  const { template, onChange } = props;
  const components = (Array.isArray(props.components) ? props.components : []) as Component[];
  const header = components.find((c) => c.type?.toUpperCase() === "HEADER");
  const buttons = components.find((c) => c.type?.toUpperCase() === "BUTTONS")?.buttons ?? [];
  const setButton = (index: number, subType: TemplateButtonSubType, parameter: string) =>
    onChange({
      ...template,
      buttons: [...template.buttons.filter((b) => b.index !== index), ...(parameter ? [{ index, subType, parameter }] : [])],
    });
  return (
    <>
      <Field label={`Header${header?.format ? ` (${header.format.toLowerCase()})` : ""}`} name="header" errors={props.errors}>
        <select
          name="headerKind"
          value={template.header}
          onChange={(e) => onChange({ ...template, header: e.target.value as TemplateForm["header"], headerValue: "" })}
        >
          <option value="none">No header parameter</option>
          <option value="text">Text</option>
          <option value="link">Link to a file</option>
          <option value="file">A file of ours</option>
        </select>
        {(template.header === "text" || template.header === "link") && (
          <input
            name="headerValue"
            value={template.headerValue}
            onChange={(e) => onChange({ ...template, headerValue: e.target.value })}
          />
        )}
        {template.header === "file" && <input type="file" name="headerFile" onChange={(e) => onChange({ ...template, headerFile: e.target.files?.[0] ?? null })} />}
      </Field>
      {buttons.map((button, index) => {
        const subType: TemplateButtonSubType =
          button.type?.toUpperCase() === "URL" ? "URL" : button.type?.toUpperCase() === "COPY_CODE" ? "COPY_CODE" : "QUICK_REPLY";
        return (
          <Field key={index} label={`Button ${index + 1} (${subType.toLowerCase()}) parameter`} name={`button-${index}`} errors={props.errors}>
            <input
              name={`button-${index}`}
              value={template.buttons.find((b) => b.index === index)?.parameter ?? ""}
              onChange={(e) => setButton(index, subType, e.target.value)}
            />
          </Field>
        );
      })}
    </>
  );
}
