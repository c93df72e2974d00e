package io.regulake.endpoint;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.SubqueryExpression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;
import scala.Option;
import scala.collection.Iterator;

/**
 * The endpoint's access check, run by the analyser on every statement a HiveServer2 client sends.
 *
 * <p>Read-only: only queries and a few SHOW / DESCRIBE / USE / SET statements pass; DDL, DML, CACHE,
 * ADD JAR and the like are refused. Reads must name catalog tables or views (a path such as
 * {@code text.`file:///etc/passwd`} or {@code delta.`/lake/silver/x`} is refused); each one must be
 * readable by the user's role (a persisted view counts as itself: an analyst reads
 * {@code public.pub_dim_person} without being allowed the gold table under it). {@code reflect} and
 * {@code java_method} are refused (they call JVM methods on the server).
 *
 * <p>Statements of the server itself (catalog refresh, query log writes) run on the Python driver's
 * threads and are not checked: only HiveServer2's worker threads are.
 */
public final class Guard {
  private static final Set<String> READ_ONLY_COMMANDS = Set.of(
      "ShowTables", "ShowTablesCommand", "ShowTablesExtended", "ShowNamespaces", "ShowNamespacesCommand",
      "SetCatalogAndNamespace", "SetNamespaceCommand", "SetCatalogCommand", "ShowCurrentNamespaceCommand",
      "ShowCatalogsCommand", "DescribeRelation", "DescribeTableCommand", "DescribeColumn",
      "DescribeColumnCommand", "DescribeNamespace", "DescribeDatabaseCommand", "ShowColumns",
      "ShowColumnsCommand", "ShowFunctions", "ShowFunctionsCommand", "DescribeFunction",
      "DescribeFunctionCommand", "ShowViews", "ShowViewsCommand", "SetCommand");

  private Guard() {}

  /**
   * Is the plan being checked the statement a client sent? Only when a HiveServer2 operation runs
   * on this thread, and the analysis is the statement's own: not one nested in it (Delta reading its
   * log while resolving a table, a persisted view's body) nor one while it is optimised or executed
   * (Delta's snapshot queries, a command's second analysis): the server's work on the client's behalf.
   */
  static boolean isClientStatement() {
    if (!Thread.currentThread().getName().startsWith("HiveServer2-")) {
      return false;
    }
    StackTraceElement[] frames = Thread.currentThread().getStackTrace();
    int analyses = 0;
    int index = 0;
    // Innermost first: the analysis, up to the Dataset it builds ...
    for (; index < frames.length; index++) {
      String type = frames[index].getClassName();
      String method = frames[index].getMethodName();
      if (type.endsWith(".ViewResolution$")) {
        return false; // a persisted view's body: the view is checked as itself in the statement
      }
      if (type.equals("org.apache.spark.sql.catalyst.analysis.Analyzer") && method.equals("executeAndCheck")) {
        analyses++;
      } else if (type.equals("org.apache.spark.sql.classic.Dataset$") && method.equals("ofRows")) {
        break;
      }
    }
    // ... which SparkSession.sql built for the HiveServer2 operation itself, with nothing in between.
    for (index++; index < frames.length; index++) {
      String type = frames[index].getClassName();
      if (type.startsWith("org.apache.spark.sql.hive.thriftserver.SparkExecuteStatementOperation")) {
        return analyses == 1;
      }
      if (!type.startsWith("org.apache.spark.sql.classic.SparkSession") && !type.startsWith("scala.")
          && !type.equals("org.apache.spark.sql.SparkSession")) {
        return false;
      }
    }
    return false;
  }

  static String currentUser() {
    try {
      return UserGroupInformation.getCurrentUser().getShortUserName();
    } catch (Exception error) {
      return null;
    }
  }

  public static void check(SparkSession session, LogicalPlan plan) {
    if (!isClientStatement() || QueryLog.isPending(plan)) {
      return; // the server's own work, or a plan already checked
    }
    String user = currentUser();
    String role = user == null ? null : Users.role(user);
    String statement = session.sparkContext().getLocalProperty("spark.job.description");
    Walk walk = new Walk(session, role == null ? "" : role);
    walk.plan(plan);
    if (role == null) {
      walk.violations.add(0, "user " + user + " has no role on this endpoint");
    }
    if (!walk.violations.isEmpty()) {
      String reason = String.join("; ", walk.violations);
      QueryLog.denied(user, role, statement, walk.tables, reason);
      throw new SecurityException("permission denied for " + user + " (role " + role + "): " + reason);
    }
    QueryLog.started(plan, user, role, statement, walk.tables);
  }

  /** One statement's walk: the tables it reads and why it may not run. */
  private static final class Walk {
    final SparkSession session;
    final String role;
    final Set<String> tables = new LinkedHashSet<>();
    final List<String> violations = new ArrayList<>();

    Walk(SparkSession session, String role) {
      this.session = session;
      this.role = role;
    }

    void read(String database, String table) {
      String name = database + "." + table;
      tables.add(name);
      if (!Policy.mayRead(role, database, table)) {
        violations.add("role " + role + " may not read " + name);
      }
    }

    void read(CatalogTable table) {
      TableIdentifier id = table.identifier();
      read(id.database().isDefined() ? id.database().get() : "default", id.table());
    }

    void read(Identifier id) {
      String[] namespace = id.namespace();
      String database = namespace.length == 0 ? "" : namespace[namespace.length - 1];
      if (database.isEmpty() || !session.catalog().databaseExists(database)) {
        violations.add("reading " + id + " by path is not allowed");
      } else {
        read(database, id.name());
      }
    }

    void plan(LogicalPlan node) {
      if (node instanceof View view && !view.isTempView()) {
        read(view.desc());
        return; // a view's own grant covers what it reads
      }
      if (node instanceof LogicalRelation relation) {
        Option<CatalogTable> table = relation.catalogTable();
        if (table.isDefined()) {
          read(table.get());
        } else {
          violations.add("reading files by path is not allowed");
        }
      } else if (node instanceof DataSourceV2Relation relation) {
        if (relation.identifier().isDefined()) {
          read(relation.identifier().get());
        } else {
          violations.add("reading files by path is not allowed");
        }
      } else if (node instanceof HiveTableRelation relation) {
        read(relation.tableMeta());
      } else if (node instanceof Command) {
        command(node);
      }
      namedTarget(node);
      Iterator<Expression> expressions = node.expressions().iterator();
      while (expressions.hasNext()) {
        expression(expressions.next());
      }
      Iterator<LogicalPlan> children = node.children().iterator();
      while (children.hasNext()) {
        plan(children.next());
      }
    }

    void command(LogicalPlan node) {
      String name = node.getClass().getSimpleName();
      if (!READ_ONLY_COMMANDS.contains(name)) {
        violations.add(name + " is not allowed: the endpoint is read-only");
      } else if (node instanceof SetCommand set && set.kv().isDefined() && set.kv().get()._2().isDefined()
          && !Policy.maySet(set.kv().get()._1())) {
        violations.add("SET " + set.kv().get()._1() + " is not allowed");
      }
    }

    /** DESCRIBE t, SHOW COLUMNS IN t: the named table must be readable too. */
    void namedTarget(LogicalPlan node) {
      for (String accessor : new String[] {"table", "tableName", "identifier"}) {
        try {
          Method method = node.getClass().getMethod(accessor);
          Object value = method.invoke(node);
          if (value instanceof TableIdentifier id) {
            read(id.database().isDefined() ? id.database().get() : session.catalog().currentDatabase(),
                id.table());
          } else if (value instanceof Identifier id && node.getClass().getSimpleName().startsWith("Resolved")) {
            read(id);
          }
        } catch (NoSuchMethodException missing) {
          // not a node that names a table this way
        } catch (ReflectiveOperationException | RuntimeException error) {
          // an accessor with another meaning: nothing to check
        }
      }
    }

    void expression(Expression expression) {
      if (expression.getClass().getSimpleName().contains("Reflect")) {
        violations.add("reflect / java_method are not allowed");
      }
      if (expression instanceof SubqueryExpression subquery) {
        plan(subquery.plan());
      }
      Iterator<Expression> children = expression.children().iterator();
      while (children.hasNext()) {
        expression(children.next());
      }
    }
  }
}
