// A thumb up or down, drawn (emoji need a font the system may lack: Debian's Chromium shows boxes).
export function Thumb({ up }: { up: boolean }) {
  return (
    <svg
      viewBox="0 0 24 24"
      width="16"
      height="16"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      className={`inline-block align-[-3px] ${up ? "" : "rotate-180"}`}
    >
      <rect x="3" y="10" width="4" height="10" rx="1" />
      <path d="M7 11l4-7c1.5 0 2.5 1 2.5 2.5V10h5a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.3 20H7" />
    </svg>
  );
}
