import { useState } from 'react';

/** Copies a value shown once (an API token's secret, an invitation code); says whether it worked. */
export function CopyButton({ value, label }: { value: string; label: string }) {
  const [said, setSaid] = useState('');
  return (
    <>
      <button
        type="button"
        onClick={() => {
          navigator.clipboard.writeText(value).then(
            () => setSaid('Copied.'),
            () => setSaid('Copying is not allowed here: select the text and copy it.'),
          );
        }}
      >
        {label}
      </button>
      <span role="status" className="muted">
        {said}
      </span>
    </>
  );
}
