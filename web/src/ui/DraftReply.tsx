// An AI agent drafts a reply: the run's steps and tokens stream in; its output fills the composer.
import { useEffect, useState } from "react";
import { useMutation, useQuery } from "urql";
import { subscribe } from "../api/live";
import { AgentRunEventsDocument, AiAgentsDocument, RunAgentDocument, type RunFieldsFragment } from "../gql/graphql";

export function DraftReply({ conversationId, onDraft }: { conversationId: string; onDraft: (text: string) => void }) {
  const [{ data }] = useQuery({ query: AiAgentsDocument });
  const [agentId, setAgentId] = useState("");
  const [run, setRun] = useState<RunFieldsFragment | null>(null);
  const [streamed, setStreamed] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [, runAgent] = useMutation(RunAgentDocument);
  const agents = data?.aiAgents.nodes ?? [];

  useEffect(() => {
    if (!run || ["SUCCEEDED", "FAILED", "CANCELLED"].includes(run.status)) return;
    return subscribe(AgentRunEventsDocument, () => ({ runId: run.id }), {
      next: ({ agentRunEvents }) => {
        if (agentRunEvents.token) setStreamed((s) => s + agentRunEvents.token);
        setRun(agentRunEvents.run);
        if (agentRunEvents.run.status === "SUCCEEDED" && agentRunEvents.run.output) onDraft(agentRunEvents.run.output);
      },
      error: setProblem,
    });
  }, [run?.id]); // eslint-disable-line react-hooks/exhaustive-deps

  if (agents.length === 0) return null;
  async function draft() {
    setProblem(null);
    setStreamed("");
    const { data: started, error } = await runAgent({
      input: { agentId: agentId || agents[0].id, conversationId, task: "DRAFT_REPLY" },
    });
    if (error) return setProblem(error.message);
    if (started?.runAgent.run) setRun(started.runAgent.run);
    else setProblem(started?.runAgent.userErrors.map((e) => e.message).join("; ") ?? null);
  }

  return (
    <div className="draft-reply">
      <select aria-label="Agent" value={agentId} onChange={(e) => setAgentId(e.target.value)}>
        {agents.map((a) => (
          <option key={a.id} value={a.id}>
            {a.name}
          </option>
        ))}
      </select>
      <button onClick={draft}>Draft a reply with AI</button>
      {problem && <p className="form-errors">{problem}</p>}
      {run && (
        <div className="run" data-run-status={run.status}>
          <strong>{run.status.toLowerCase()}</strong>
          <ol>
            {run.steps.map((s) => (
              <li key={s.index}>
                {s.kind}
                {s.name ? ` ${s.name}` : ""}: {s.content?.slice(0, 200)}
              </li>
            ))}
          </ol>
          {streamed && run.status === "RUNNING" && <p className="streamed">{streamed}</p>}
          {run.error && <p className="form-errors">{run.error}</p>}
        </div>
      )}
    </div>
  );
}
