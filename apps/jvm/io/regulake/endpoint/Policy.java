package io.regulake.endpoint;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * What each role may read: {@code role.<name> = db.table patterns (glob, comma separated)}, plus
 * {@code settable = conf keys a client may SET}. Written by apps/serve.py from conf/regulake.yaml
 * ({@code serve.roles}) when the endpoint starts.
 */
public final class Policy {
  public static final String FILE_PROPERTY = "regulake.endpoint.policy";
  private static Properties loaded;

  private Policy() {}

  private static synchronized Properties properties() {
    if (loaded == null) {
      Properties properties = new Properties();
      String file = System.getProperty(FILE_PROPERTY);
      if (file != null) {
        try (Reader reader = Files.newBufferedReader(Paths.get(file), StandardCharsets.UTF_8)) {
          properties.load(reader);
        } catch (IOException error) {
          throw new IllegalStateException("cannot read the endpoint policy " + file, error);
        }
      }
      loaded = properties;
    }
    return loaded;
  }

  private static List<Pattern> patterns(String key) {
    List<Pattern> patterns = new ArrayList<>();
    for (String glob : properties().getProperty(key, "").split(",")) {
      String trimmed = glob.strip().toLowerCase(Locale.ROOT);
      if (!trimmed.isEmpty()) {
        patterns.add(Pattern.compile(Pattern.quote(trimmed).replace("*", "\\E.*\\Q")));
      }
    }
    return patterns;
  }

  /** May this role read database.table? Unknown roles read nothing. */
  public static boolean mayRead(String role, String database, String table) {
    String name = (database + "." + table).toLowerCase(Locale.ROOT);
    for (Pattern pattern : patterns("role." + role)) {
      if (pattern.matcher(name).matches()) {
        return true;
      }
    }
    return false;
  }

  public static boolean maySet(String key) {
    for (Pattern pattern : patterns("settable")) {
      if (pattern.matcher(key.toLowerCase(Locale.ROOT)).matches()) {
        return true;
      }
    }
    return false;
  }
}
