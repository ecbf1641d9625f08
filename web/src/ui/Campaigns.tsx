// Campaigns: create one from a template, start it, watch its progress live, pause and resume.
import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { subscribe } from "../api/live";
import {
  AudienceContactsDocument,
  CampaignProgressDocument,
  CampaignsDocument,
  CreateCampaignDocument,
  CreateTemplateDocument,
  DevicesDocument,
  PauseCampaignDocument,
  ResumeCampaignDocument,
  StartCampaignDocument,
  TemplatesDocument,
  type CampaignFieldsFragment,
} from "../gql/graphql";
import { Field, FormErrors } from "./forms";

const FINISHED = ["COMPLETED", "CANCELLED", "FAILED"];

type CampaignAction = (variables: { input: { campaignId: string } }) => Promise<{
  error?: { message: string };
  data?: Record<string, { campaign?: CampaignFieldsFragment | null; userErrors: { message: string }[] }>;
}>;

export function Campaigns() {
  const [{ data }, refetch] = useQuery({ query: CampaignsDocument });
  return (
    <div className="page">
      <h2>Campaigns</h2>
      <ul className="cards">
        {data?.campaigns.nodes.map((c) => <CampaignCard key={c.id} campaign={c} />)}
      </ul>
      <NewCampaign onCreated={() => refetch({ requestPolicy: "network-only" })} />
    </div>
  );
}

function CampaignCard({ campaign: initial }: { campaign: CampaignFieldsFragment }) {
  const [campaign, setCampaign] = useState(initial);
  const [problem, setProblem] = useState<string | null>(null);
  const [, start] = useMutation(StartCampaignDocument);
  const [, pause] = useMutation(PauseCampaignDocument);
  const [, resume] = useMutation(ResumeCampaignDocument);
  const live = campaign.status === "RUNNING" || campaign.status === "SCHEDULED" || campaign.status === "PAUSED";

  useEffect(() => setCampaign(initial), [initial]);
  useEffect(() => {
    if (!live) return;
    return subscribe(CampaignProgressDocument, () => ({ campaignId: campaign.id }), {
      next: ({ campaignProgress }) => setCampaign(campaignProgress),
      error: setProblem,
    });
  }, [campaign.id, live]);

  async function act(run: CampaignAction) {
    setProblem(null);
    const { data, error } = await run({ input: { campaignId: campaign.id } });
    const payload = data && Object.values(data)[0];
    if (error) setProblem(error.message);
    else if (payload?.userErrors.length) setProblem(payload.userErrors.map((e) => e.message).join("; "));
    else if (payload?.campaign) setCampaign(payload.campaign);
  }

  const { stats } = campaign;
  const done = stats.sent + stats.delivered + stats.read + stats.failed + stats.skipped + stats.cancelled;
  return (
    <li className="card campaign" data-campaign-id={campaign.id} data-campaign-status={campaign.status}>
      <h3>{campaign.name}</h3>
      <p>
        {campaign.templateName ?? "text"} · {campaign.device.name} · <strong className="status">{campaign.status}</strong>
      </p>
      <progress max={stats.total || 1} value={done} />
      <p className="stats" data-testid="campaign-stats">
        {stats.total} recipients · {stats.pending} pending · {stats.sent} sent · {stats.delivered} delivered ·{" "}
        <span data-read={stats.read}>{stats.read} read</span> · {stats.failed} failed · {stats.skipped} skipped
      </p>
      {problem && <p className="form-errors">{problem}</p>}
      {campaign.failureReason && <p className="form-errors">{campaign.failureReason}</p>}
      {campaign.status === "DRAFT" && <button className="primary" onClick={() => act(start)}>Start</button>}
      {campaign.status === "RUNNING" && <button onClick={() => act(pause)}>Pause</button>}
      {campaign.status === "PAUSED" && <button onClick={() => act(resume)}>Resume</button>}
      {FINISHED.includes(campaign.status) && campaign.finishedAt && <small>finished {new Date(campaign.finishedAt).toLocaleTimeString()}</small>}
    </li>
  );
}

function NewCampaign({ onCreated }: { onCreated: () => void }) {
  const [{ data: devices }] = useQuery({ query: DevicesDocument });
  const [form, setForm] = useState({ name: "Spring sale", deviceId: "", templateId: "", parameters: "{{name}}", tags: "" });
  const deviceId = form.deviceId || devices?.devices.nodes[0]?.id || "";
  const [{ data: templates }, refetchTemplates] = useQuery({ query: TemplatesDocument, variables: { deviceId }, pause: !deviceId });
  const [{ data: contacts }] = useQuery({ query: AudienceContactsDocument });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateCampaignDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const template = templates?.templates.nodes.find((t) => t.id === form.templateId) ?? templates?.templates.nodes[0];
    if (!template) return setErrors({ byField: { template: "Create a template first." }, form: [] });
    const tags = form.tags.split(",").map((t) => t.trim()).filter(Boolean);
    const { data, error } = await create({
      input: {
        name: form.name,
        deviceId,
        template: {
          name: template.name,
          language: template.language,
          parameters: form.parameters ? form.parameters.split(",").map((p) => p.trim()) : [],
        },
        ...(tags.length ? { tags } : { contactIds: contacts?.contacts.nodes.map((c) => c.id) ?? [] }),
      },
    });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.createCampaign.userErrors, ["name", "deviceId", "template", "tags", "contactIds"]));
    if (data?.createCampaign.campaign) onCreated();
  }

  return (
    <form className="card" onSubmit={submit} aria-label="New campaign">
      <h3>New campaign</h3>
      <FormErrors errors={errors} />
      <Field label="Name" name="name" errors={errors}>
        <input name="campaignName" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
      </Field>
      <Field label="Device" name="deviceId" errors={errors}>
        <select value={deviceId} onChange={(e) => setForm({ ...form, deviceId: e.target.value })}>
          {devices?.devices.nodes.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Template" name="template" errors={errors}>
        <select name="template" value={form.templateId} onChange={(e) => setForm({ ...form, templateId: e.target.value })}>
          {templates?.templates.nodes.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name} ({t.language}, {t.status.toLowerCase()})
            </option>
          ))}
        </select>
      </Field>
      <Field label="Template parameters (comma-separated; {{name}}, {{phone}})" name="parameters" errors={errors}>
        <input value={form.parameters} onChange={(e) => setForm({ ...form, parameters: e.target.value })} />
      </Field>
      <Field label={`Audience: contacts with these tags (empty: all ${contacts?.contacts.nodes.length ?? 0} contacts)`} name="tags" errors={errors}>
        <input value={form.tags} onChange={(e) => setForm({ ...form, tags: e.target.value })} />
      </Field>
      <button type="submit" className="primary">
        Create campaign
      </button>
      {deviceId && <NewTemplate deviceId={deviceId} onCreated={() => refetchTemplates({ requestPolicy: "network-only" })} />}
    </form>
  );
}

function NewTemplate({ deviceId, onCreated }: { deviceId: string; onCreated: () => void }) {
  const [form, setForm] = useState({ name: "spring_sale", body: "Hi {{1}}, our spring sale starts today!" });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateTemplateDocument);

  async function add() {
    const { data, error } = await create({
      input: { deviceId, name: form.name, language: "en_US", category: "MARKETING", components: [{ type: "BODY", text: form.body }] },
    });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.createTemplate.userErrors, ["name", "components"]));
    if (data?.createTemplate.template) onCreated();
  }

  return (
    <fieldset className="new-template">
      <legend>New template (a SANDBOX device's are approved at once)</legend>
      <FormErrors errors={errors} />
      <Field label="Template name" name="name" errors={errors}>
        <input name="templateName" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
      </Field>
      <Field label="Body" name="components" errors={errors}>
        <input name="templateBody" value={form.body} onChange={(e) => setForm({ ...form, body: e.target.value })} />
      </Field>
      <button type="button" onClick={add}>
        Add template
      </button>
    </fieldset>
  );
}
