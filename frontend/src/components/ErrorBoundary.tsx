import { Component, type ErrorInfo, type ReactNode } from "react";
import { ErrorNote } from "./ErrorNote";

/** A part of a page that fails to render shows its error; the rest of the page (and the app) stays. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error("render failed", error, info.componentStack);
  }

  render() {
    return this.state.error !== null ? <ErrorNote error={this.state.error} /> : this.props.children;
  }
}
