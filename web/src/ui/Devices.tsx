// WhatsApp numbers: create a SANDBOX device, connect it, pair it by QR code; play a customer.
import QRCode from "qrcode";
import { useEffect, useState, type FormEvent } from "react";
import { useMutation, useQuery } from "urql";
import { fieldErrors, NO_ERRORS, transportErrors, type FieldErrors } from "../api/errors";
import { subscribe } from "../api/live";
import {
  ConnectDeviceDocument,
  CreateDeviceDocument,
  DeviceEventsDocument,
  DevicesDocument,
  SimulateInboundDocument,
  SimulateQrScanDocument,
  UploadMediaDocument,
  type DeviceFieldsFragment,
} from "../gql/graphql";
import { Field, FormErrors } from "./forms";

export function Devices() {
  const [{ data }, refetch] = useQuery({ query: DevicesDocument });
  const [form, setForm] = useState({ name: "Sandbox", phoneNumber: "+16505550100", requiresPairing: false });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [, create] = useMutation(CreateDeviceDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const { data: created, error } = await create({
      input: { name: form.name, phoneNumber: form.phoneNumber, provider: "SANDBOX", requiresPairing: form.requiresPairing },
    });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(created?.createDevice.userErrors, ["name", "phoneNumber", "provider"]));
    if (created?.createDevice.device) refetch({ requestPolicy: "network-only" });
  }

  return (
    <div className="page">
      <h2>Devices</h2>
      <ul className="cards">
        {data?.devices.nodes.map((d) => <DeviceCard key={d.id} device={d} />)}
      </ul>
      <form className="card" onSubmit={submit} aria-label="New SANDBOX device">
        <h3>New SANDBOX device</h3>
        <FormErrors errors={errors} />
        <Field label="Name" name="name" errors={errors}>
          <input name="deviceName" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </Field>
        <Field label="Phone number (E.164)" name="phoneNumber" errors={errors}>
          <input name="phoneNumber" value={form.phoneNumber} onChange={(e) => setForm({ ...form, phoneNumber: e.target.value })} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={form.requiresPairing} onChange={(e) => setForm({ ...form, requiresPairing: e.target.checked })} />
          Requires pairing (QR code)
        </label>
        <button type="submit" className="primary">
          Create device
        </button>
      </form>
    </div>
  );
}

function DeviceCard({ device: initial }: { device: DeviceFieldsFragment }) {
  const [device, setDevice] = useState(initial);
  const [qr, setQr] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [, connect] = useMutation(ConnectDeviceDocument);
  const [, scan] = useMutation(SimulateQrScanDocument);

  useEffect(() => setDevice(initial), [initial]);
  useEffect(
    () =>
      subscribe(DeviceEventsDocument, () => ({ deviceId: device.id }), {
        next: ({ deviceEvents }) => setDevice(deviceEvents.device),
        error: setProblem,
      }),
    [device.id],
  );
  useEffect(() => {
    if (device.status === "QR_REQUIRED" && device.qrCode) void QRCode.toDataURL(device.qrCode).then(setQr);
    else setQr(null);
  }, [device.status, device.qrCode]);

  async function act(run: () => Promise<{ error?: { message: string }; data?: { [k: string]: { device?: DeviceFieldsFragment | null; userErrors: { message: string }[] } } }>) {
    setProblem(null);
    const { data, error } = await run();
    const payload = data && Object.values(data)[0];
    if (error) setProblem(error.message);
    else if (payload?.userErrors.length) setProblem(payload.userErrors.map((e) => e.message).join("; "));
    else if (payload?.device) setDevice(payload.device);
  }

  return (
    <li className="card device" data-device-id={device.id} data-device-status={device.status}>
      <h3>{device.name}</h3>
      <p>
        {device.phoneNumber} · {device.provider} · <strong className="status">{device.status}</strong>
      </p>
      {problem && <p className="form-errors">{problem}</p>}
      {device.status !== "CONNECTED" && device.status !== "QR_REQUIRED" && device.status !== "CONNECTING" && (
        <button className="primary" onClick={() => act(() => connect({ input: { deviceId: device.id } }))}>
          Connect
        </button>
      )}
      {qr && (
        <div className="qr">
          <img src={qr} alt="Pairing QR code" width={180} height={180} />
          <small>Scan with WhatsApp on the phone; expires {device.qrCodeExpiresAt ? new Date(device.qrCodeExpiresAt).toLocaleTimeString() : ""}</small>
          {device.provider === "SANDBOX" && device.qrCode && (
            <button onClick={() => act(() => scan({ input: { deviceId: device.id, qrCode: device.qrCode! } }))}>Simulate the phone's scan</button>
          )}
        </div>
      )}
      {device.provider === "SANDBOX" && device.status === "CONNECTED" && <SimulateCustomer deviceId={device.id} />}
    </li>
  );
}

function SimulateCustomer({ deviceId }: { deviceId: string }) {
  const [form, setForm] = useState({ from: "+14155552671", name: "Ada", text: "Hi! Is my order on its way?" });
  const [errors, setErrors] = useState<FieldErrors>(NO_ERRORS);
  const [sent, setSent] = useState(0);
  const [file, setFile] = useState<File | null>(null);
  const [, simulate] = useMutation(SimulateInboundDocument);
  const [, upload] = useMutation(UploadMediaDocument);

  async function submit(event: FormEvent) {
    event.preventDefault();
    let mediaFileId: string | null = null;
    if (file) {
      // The customer's file: stored with uploadMedia, then "sent" by the simulated customer.
      const { data: stored, error } = await upload({ input: { file } });
      if (error) return setErrors(transportErrors(error));
      if (!stored?.uploadMedia.mediaFile) return setErrors(fieldErrors(stored?.uploadMedia.userErrors, ["file"]));
      mediaFileId = stored.uploadMedia.mediaFile.id;
    }
    const { data, error } = await simulate({ input: { deviceId, ...form, text: form.text || null, mediaFileId } });
    if (error) return setErrors(transportErrors(error));
    setErrors(fieldErrors(data?.simulateInboundMessage.userErrors, ["from", "text", "name", "mediaFileId", "file"]));
    if (data?.simulateInboundMessage.message) setSent((n) => n + 1);
  }

  return (
    <form className="simulate" onSubmit={submit} aria-label="Simulate a customer message">
      <h4>A customer writes (sandbox)</h4>
      <FormErrors errors={errors} />
      <Field label="From" name="from" errors={errors}>
        <input name="from" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
      </Field>
      <Field label="Name" name="name" errors={errors}>
        <input name="customerName" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
      </Field>
      <Field label="Text" name="text" errors={errors}>
        <input name="text" value={form.text} onChange={(e) => setForm({ ...form, text: e.target.value })} />
      </Field>
      <Field label="File" name="file" errors={errors}>
        <input type="file" name="customerFile" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </Field>
      <button type="submit">Send as customer</button>
      {sent > 0 && <small data-testid="simulated">{sent} sent</small>}
    </form>
  );
}
