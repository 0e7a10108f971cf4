// Environment variables as rows of name and value. Values are write-only on the server: the editor starts from the
// app's variable names with empty values, and only what is typed here is sent.
import { useId } from 'react';

export interface EnvRow {
  key: string;
  value: string;
}

export function EnvEditor({ rows, onChange, error }: { rows: EnvRow[]; onChange(rows: EnvRow[]): void; error?: string | undefined }) {
  const id = useId();
  const set = (i: number, patch: Partial<EnvRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="env-editor" aria-describedby={error ? `${id}-err` : undefined}>
      <legend>Environment variables</legend>
      {rows.length === 0 && <p className="muted">No variables.</p>}
      {rows.map((r, i) => (
        <div className="env-row" key={i}>
          <label htmlFor={`${id}-k${i}`} className="sr-only">
            Variable {i + 1} name
          </label>
          <input id={`${id}-k${i}`} placeholder="NAME" value={r.key} spellCheck={false} autoComplete="off" onChange={(e) => set(i, { key: e.target.value })} />
          <label htmlFor={`${id}-v${i}`} className="sr-only">
            Variable {i + 1} value
          </label>
          <input id={`${id}-v${i}`} placeholder="value" value={r.value} spellCheck={false} autoComplete="off" onChange={(e) => set(i, { value: e.target.value })} />
          <button type="button" onClick={() => onChange(rows.filter((_, j) => j !== i))} aria-label={`Remove variable ${r.key || i + 1}`}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { key: '', value: '' }])}>
        Add variable
      </button>
      {error && (
        <p id={`${id}-err`} className="field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}

/** The rows that have a name, as the API's env map (an empty value is a value). */
export function envFromRows(rows: EnvRow[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const r of rows) if (r.key.trim()) env[r.key.trim()] = r.value;
  return env;
}
