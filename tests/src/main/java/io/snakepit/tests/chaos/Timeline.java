package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Outcome;
import java.util.List;
import java.util.Locale;

/**
 * The run at a glance, as SVG: every operation as a dot at the time it was
 * sent and the latency it had (log scale), coloured by outcome, with the
 * faults shaded behind them and named.
 */
final class Timeline {

  static final int WIDTH = 1200;
  static final int HEIGHT = 420;
  static final int LEFT = 60;
  static final int TOP = 30;
  static final int PLOT_W = WIDTH - LEFT - 20;
  static final int PLOT_H = HEIGHT - TOP - 50;
  /** The latency axis: 0.1 ms to 60 s. */
  static final double LOG_MIN = Math.log10(0.1);
  static final double LOG_MAX = Math.log10(60_000);

  private Timeline() {
  }

  static String svg(History h) {
    List<Op> ops = h.ops();
    long origin = h.origin();
    long last = Math.max(origin + 1, ops.stream().mapToLong(Op::complete).max().orElse(origin + 1));
    double span = last - origin;
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        + "font-family=\"sans-serif\" font-size=\"11\">%n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>%n",
        WIDTH, HEIGHT));
    b.append("<text x=\"").append(LEFT).append("\" y=\"18\" font-size=\"13\">Operations over time (latency, log "
        + "scale): green ok, orange failed, red unknown; shaded: faults</text>\n");
    for (Fault f : h.faults()) {
      double x0 = x(f.start(), origin, span);
      double x1 = Math.max(x0 + 2, x(f.end(), origin, span));
      b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
          + "opacity=\"0.18\"/><text x=\"%.1f\" y=\"%d\" fill=\"#444\">%s %s</text>%n", x0, TOP, x1 - x0, PLOT_H,
          colour(f.kind()), x0 + 2, TOP + 12, f.kind().name().toLowerCase(), escape(f.nodes())));
    }
    for (double ms : new double[] {0.1, 1, 10, 100, 1000, 10_000}) {
      double y = y(ms);
      b.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
          + "<text x=\"4\" y=\"%.1f\">%s</text>%n", LEFT, LEFT + PLOT_W, y, y, y + 4, ms < 1 ? "0.1 ms" : ms < 1000
          ? (int) ms + " ms" : (int) (ms / 1000) + " s"));
    }
    int step = Math.max(1, (int) Math.ceil(span / 1e9 / 12));
    for (int s = 0; s * 1e9 <= span; s += step) {
      double x = x(origin + (long) (s * 1e9), origin, span);
      b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d s</text>%n", x,
          TOP + PLOT_H + 16, s));
    }
    for (Op op : ops) {
      if (op.invoke() < origin) {
        continue;
      }
      double ms = Math.max(0.1, (op.complete() - op.invoke()) / 1e6);
      b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%s\"/>%n",
          x(op.invoke(), origin, span), y(ms), op.outcome() == Outcome.OK ? "#2a9d3a"
              : op.outcome() == Outcome.FAIL ? "#f08c00" : "#d62728"));
    }
    b.append("</svg>\n");
    return b.toString();
  }

  static double x(long t, long origin, double span) {
    return LEFT + PLOT_W * Math.max(0, t - origin) / span;
  }

  static double y(double ms) {
    double f = (Math.log10(Math.min(60_000, ms)) - LOG_MIN) / (LOG_MAX - LOG_MIN);
    return TOP + PLOT_H * (1 - f);
  }

  static String colour(FaultKind k) {
    return switch (k) {
      case KILL -> "#d62728";
      case PAUSE -> "#1f77b4";
      case DRAIN -> "#2ca02c";
      case WORKER_KILL, WORKER_HANG -> "#9467bd";
      case ISOLATE, HALVES, BRIDGE -> "#ff7f0e";
      case FULL_DISK -> "#8c564b";
      case SKEW -> "#e377c2";
    };
  }

  static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
