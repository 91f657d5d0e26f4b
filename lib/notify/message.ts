// What a message to NOTIFY_URL says, and the body each receiver wants: hoist's own JSON fields, or
// the one text field Slack ({"text"}) and Discord ({"content"}, at most 2000 characters) read. The
// watchdog on the hosts (tasks/ssh-bootstrap/watchdog-script.ts) shapes its alerts the same way.

export type NotifyFormat = 'json' | 'slack' | 'discord';

export interface Message {
  /** 'run': after a pipeline run; 'alert': the watchdog saw a state change. */
  kind: 'run' | 'alert';
  /** One line a person reads first. */
  title: string;
  /** The lines under it. */
  lines: string[];
  /** hoist's own fields (json format only): what a script would match on. */
  fields: Record<string, unknown>;
}

/** Discord refuses a `content` longer than this. */
export const DISCORD_MAX = 2000;

export function messageText(m: Message): string {
  return [m.title, ...m.lines].join('\n');
}

export function shapeBody(format: NotifyFormat, m: Message): string {
  const text = messageText(m);
  switch (format) {
    case 'slack':
      return JSON.stringify({ text });
    case 'discord':
      return JSON.stringify({ content: text.length > DISCORD_MAX ? `${text.slice(0, DISCORD_MAX - 1)}…` : text });
    case 'json':
      return JSON.stringify({ hoist: m.kind, ...m.fields, text });
  }
}
