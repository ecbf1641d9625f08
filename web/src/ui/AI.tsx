// AI agents: the organization's agents and a new one. Drafting a reply is in the conversation.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { AiAgentsDocument, CreateAiAgentDocument } from "../gql/graphql";
import { Field, FormErrors } from "./forms";

export function AI() {
  const [{ data }, refetch] = useQuery({ query: AiAgentsDocument });
  const [form, setForm] = useState({ name: "Support", instructions: "Answer politely and briefly.", model: "" });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateAiAgentDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const { data: created, error } = await create({
      input: { name: form.name, instructions: form.instructions, model: form.model || null },
    });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(created?.createAIAgent.userErrors, ["name", "instructions", "model"]));
    if (created?.createAIAgent.agent) refetch({ requestPolicy: "network-only" });
  }

  return (
    <div className="page">
      <h2>AI agents</h2>
      <p>Open a conversation and use “Draft a reply with AI”: the run's steps stream in and its draft fills the composer.</p>
      <ul className="cards">
        {data?.aiAgents.nodes.map((a) => (
          <li key={a.id} className="card">
            <h3>{a.name}</h3>
            <p>{a.model ?? "default model"} · {a.enabled ? "enabled" : "disabled"}</p>
          </li>
        ))}
      </ul>
      <form className="card" onSubmit={submit} aria-label="New agent">
        <h3>New agent</h3>
        <FormErrors errors={errors} />
        <Field label="Name" name="name" errors={errors}>
          <input value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </Field>
        <Field label="Instructions" name="instructions" errors={errors}>
          <textarea value={form.instructions} onChange={(e) => setForm({ ...form, instructions: e.target.value })} />
        </Field>
        <Field label="Model (empty: the server's default)" name="model" errors={errors}>
          <input value={form.model} onChange={(e) => setForm({ ...form, model: e.target.value })} />
        </Field>
        <button type="submit" className="primary">Create agent</button>
      </form>
    </div>
  );
}
