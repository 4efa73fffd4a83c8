import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { btn, cell, head, input, invalidInput } from "./helpers";

/** A modal question; Escape or Cancel closes it, focus starts on Cancel (the safe answer). */
export function Dialog({ title, children, onClose, actions }: { title: string; children: ReactNode; onClose: () => void; actions: ReactNode }) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    box.current?.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    return () => previous?.focus();
  }, []);
  return (
    <div className="fixed inset-0 z-20 flex items-center justify-center bg-black/50 p-4" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div
        ref={box}
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${id}-title`}
        className="w-full max-w-xl rounded-lg border border-slate-300 bg-white p-5 shadow-xl dark:border-slate-700 dark:bg-slate-900"
      >
        <h2 id={`${id}-title`} className="mb-3 text-lg font-semibold">
          {title}
        </h2>
        <div className="space-y-3 text-sm">{children}</div>
        <div className="mt-4 flex flex-wrap justify-end gap-2">{actions}</div>
      </div>
    </div>
  );
}

/** A button that asks first: the dialog says what the action does; only "confirm" runs it. */
export function ConfirmButton({
  label,
  title,
  body,
  onConfirm,
  disabled,
  className = btn.danger,
}: {
  label: string;
  title: string;
  body: string;
  onConfirm: () => void;
  disabled?: boolean;
  className?: string;
}) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <Dialog
          title={title}
          onClose={() => setOpen(false)}
          actions={
            <>
              <button type="button" data-autofocus className={btn.secondary} onClick={() => setOpen(false)}>
                {t("console.ui.cancel")}
              </button>
              <button
                type="button"
                className={btn.dangerSolid}
                onClick={() => {
                  setOpen(false);
                  onConfirm();
                }}
              >
                {label}
              </button>
            </>
          }
        >
          <p>{body}</p>
        </Dialog>
      )}
    </>
  );
}

/** A labelled form field; `invalid` (named by the API's error details) marks it for eyes and screen readers. */
export function Field({
  id,
  label,
  invalid,
  help,
  children,
}: {
  id: string;
  label: string;
  invalid?: boolean;
  help?: string;
  children: (props: { id: string; className: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}) {
  const { t } = useTranslation();
  const described = [help ? `${id}-help` : "", invalid ? `${id}-invalid` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div>
      <label htmlFor={id} className="mb-1 block text-sm font-medium">
        {label}
      </label>
      {children({ id, className: `${input} ${invalid ? invalidInput : ""}`, "aria-invalid": Boolean(invalid), "aria-describedby": described })}
      {help && (
        <p id={`${id}-help`} className="mt-1 text-xs text-slate-600 dark:text-slate-400">
          {help}
        </p>
      )}
      {invalid && (
        <p id={`${id}-invalid`} className="mt-1 text-xs font-medium text-red-700 dark:text-red-300">
          {t("console.ui.fieldInvalid")}
        </p>
      )}
    </div>
  );
}

/** "1–50 of 120" with previous/next. */
export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number; onChange: (offset: number) => void }) {
  const { t } = useTranslation();
  if (total <= limit && offset === 0) return null;
  return (
    <nav aria-label={t("console.ui.page", { from: offset + 1, to: Math.min(offset + limit, total), total })} className="mt-3 flex items-center gap-3 text-sm">
      <button type="button" className={btn.secondary} disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        {t("console.ui.previous")}
      </button>
      <span className="tabular-nums" data-testid="pager">
        {t("console.ui.page", { from: total === 0 ? 0 : offset + 1, to: Math.min(offset + limit, total), total })}
      </span>
      <button type="button" className={btn.secondary} disabled={offset + limit >= total} onClick={() => onChange(offset + limit)}>
        {t("console.ui.next")}
      </button>
    </nav>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <p role="status" className="rounded border border-emerald-600 bg-emerald-50 px-3 py-2 text-sm text-emerald-900 dark:border-emerald-500 dark:bg-emerald-950 dark:text-emerald-100">
      {children}
    </p>
  );
}

/** A console table: the column headings, an unlabelled last column for row actions, and the rows. */
export function Table({ columns, children }: { columns: string[]; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <thead className={head}>
          <tr>
            {columns.map((column) => (
              <th key={column} className={cell}>
                {column}
              </th>
            ))}
            <th className={cell}>
              <span className="sr-only">{t("console.ui.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
