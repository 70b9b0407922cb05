import { useState } from 'react';

/** Copies a secret to the clipboard and says so (or says to select it by hand where the browser refuses). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <span className="copy">
      <button type="button" className="btn btn-small" onClick={() => void copy()}>{label}</button>
      <span role="status" className="small muted">{state === 'copied' ? ' Copied.' : state === 'failed' ? ' The browser did not allow copying: select the text and copy it.' : ''}</span>
    </span>
  );
}
