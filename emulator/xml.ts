/**
 * The one XML writer of the emulated services (storage error bodies, Get Page Ranges answers). Text is escaped here
 * and nowhere else, as numeric character references; elements follow each other without whitespace, as the
 * storage service writes them.
 */

/** An element: text (numbers written as decimals), child elements, or nothing (written `<Name />`). */
export interface XmlElement {
  readonly name: string;
  readonly content?: string | number | readonly XmlElement[];
}

export function element(name: string, content?: XmlElement["content"]): XmlElement {
  return { name, content };
}

/** The document `root` makes, with the storage service's declaration. */
export function xmlDocument(root: XmlElement): string {
  return `<?xml version="1.0" encoding="utf-8"?>${render(root)}`;
}

function render({ name, content }: XmlElement): string {
  if (content === undefined) return `<${name} />`;
  const inner = typeof content === "object" ? content.map(render).join("") : escapeText(String(content));
  return `<${name}>${inner}</${name}>`;
}

function escapeText(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
