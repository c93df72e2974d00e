package io.regulake.endpoint;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.CollectLimitExec;
import org.apache.spark.sql.execution.GlobalLimitExec;
import org.apache.spark.sql.execution.InputAdapter;
import org.apache.spark.sql.execution.LocalLimitExec;
import org.apache.spark.sql.execution.QueryExecution;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.TakeOrderedAndProjectExec;
import org.apache.spark.sql.execution.WholeStageCodegenExec;
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec;
import org.apache.spark.sql.execution.metric.SQLMetric;
import org.apache.spark.sql.util.QueryExecutionListener;
import scala.Option;

/**
 * Who queried what: every client statement (allowed, refused or failed) and every refused login
 * becomes one JSON line, drained by apps/serve.py into {@code audit.query_log}.
 *
 * <p>Registered as {@code spark.sql.queryExecutionListeners}: the listener finds the entry the
 * {@link Guard} opened for the same analysed plan and adds the rows returned and the outcome.
 */
public class QueryLog implements QueryExecutionListener {
  /** An entry whose execution never reported back (e.g. a statement only analysed) is closed after this. */
  static final long PENDING_MILLIS = 60_000;

  private record Entry(String user, String role, String statement, Collection<String> tables, long started) {}

  private static final Map<LogicalPlan, Entry> PENDING = Collections.synchronizedMap(new IdentityHashMap<>());
  private static final ConcurrentLinkedQueue<String> DONE = new ConcurrentLinkedQueue<>();

  static boolean isPending(LogicalPlan plan) {
    return PENDING.containsKey(plan);
  }

  static void started(LogicalPlan plan, String user, String role, String statement, Collection<String> tables) {
    PENDING.put(plan, new Entry(user, role, statement, List.copyOf(tables), System.currentTimeMillis()));
  }

  static void denied(String user, String role, String statement, Collection<String> tables, String reason) {
    Entry entry = new Entry(user, role, statement, List.copyOf(tables), System.currentTimeMillis());
    DONE.add(json(entry, "denied", reason, 0L));
  }

  static void refused(String user) {
    DONE.add(json(new Entry(user, null, null, List.of(), System.currentTimeMillis()), "login_refused",
        "wrong user name or password", 0L));
  }

  @Override
  public void onSuccess(String funcName, QueryExecution qe, long durationNs) {
    Entry entry = opened(qe);
    if (entry != null) {
      DONE.add(json(entry, "ok", null, rows(qe.executedPlan())));
    }
  }

  @Override
  public void onFailure(String funcName, QueryExecution qe, Exception exception) {
    Entry entry = opened(qe);
    if (entry != null) {
      DONE.add(json(entry, "failed", String.valueOf(exception.getMessage()), null));
    }
  }

  /** The entry the guard opened for this execution's statement; null for the server's own work. */
  private static Entry opened(QueryExecution qe) {
    try {
      return PENDING.remove(qe.analyzed());
    } catch (RuntimeException analysisFailed) {
      return null; // never analysed, so never checked nor opened
    }
  }

  /** The finished entries, as JSON lines; entries pending too long are closed as "unfinished". */
  public static List<String> drain() {
    List<String> lines = new ArrayList<>();
    long now = System.currentTimeMillis();
    synchronized (PENDING) {
      Iterator<Map.Entry<LogicalPlan, Entry>> pending = PENDING.entrySet().iterator();
      while (pending.hasNext()) {
        Entry entry = pending.next().getValue();
        if (now - entry.started() > PENDING_MILLIS) {
          lines.add(json(entry, "unfinished", null, null));
          pending.remove();
        }
      }
    }
    for (String line = DONE.poll(); line != null; line = DONE.poll()) {
      lines.add(line);
    }
    return lines;
  }

  /** Rows the statement returned: the output-row count of the top plan node that counts, capped by limits. */
  static Long rows(SparkPlan plan) {
    if (plan instanceof AdaptiveSparkPlanExec adaptive) {
      return rows(adaptive.executedPlan());
    }
    if (plan instanceof WholeStageCodegenExec codegen) {
      return rows(codegen.child());
    }
    if (plan instanceof InputAdapter adapter) {
      return rows(adapter.child());
    }
    Integer limit = null;
    if (plan instanceof CollectLimitExec collect) {
      limit = collect.limit();
    } else if (plan instanceof TakeOrderedAndProjectExec take) {
      limit = take.limit();
    } else if (plan instanceof GlobalLimitExec global) {
      limit = global.limit();
    } else if (plan instanceof LocalLimitExec local) {
      limit = local.limit();
    }
    Option<SQLMetric> counted = plan.metrics().get("numOutputRows");
    if (limit == null && counted.isDefined()) {
      return counted.get().value();
    }
    if (plan.children().size() != 1) {
      return null;
    }
    Long below = rows(plan.children().head());
    if (below == null || limit == null || limit < 0) {
      return below;
    }
    return Math.min(below, limit);
  }

  private static String json(Entry entry, String outcome, String reason, Long rows) {
    StringBuilder out = new StringBuilder("{");
    field(out, "user", entry.user()).append(',');
    field(out, "role", entry.role()).append(',');
    out.append("\"started_ms\":").append(entry.started()).append(',');
    out.append("\"finished_ms\":").append(System.currentTimeMillis()).append(',');
    field(out, "statement", entry.statement()).append(',');
    out.append("\"tables\":[");
    int index = 0;
    for (String table : entry.tables()) {
      if (index++ > 0) {
        out.append(',');
      }
      quote(out, table);
    }
    out.append("],");
    field(out, "outcome", outcome).append(',');
    field(out, "reason", reason).append(',');
    out.append("\"rows\":").append(rows == null ? "null" : rows.toString());
    return out.append('}').toString();
  }

  private static StringBuilder field(StringBuilder out, String name, String value) {
    quote(out, name).append(':');
    return value == null ? out.append("null") : quote(out, value);
  }

  private static StringBuilder quote(StringBuilder out, String value) {
    out.append('"');
    for (char c : value.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"');
  }
}
