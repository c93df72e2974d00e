package io.regulake.endpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.spec.KeySpec;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * The endpoint's users: one line per user, {@code name:role:pbkdf2_sha256:iterations:salt_hex:hash_hex},
 * written by {@code regulake users add} (apps/endpoint_users.py). Re-read when the file changes, so a
 * user added or removed takes effect at the next login without a restart.
 */
public final class Users {
  public static final String FILE_PROPERTY = "regulake.endpoint.users";

  record User(String name, String role, int iterations, byte[] salt, byte[] hash) {}

  private static Map<String, User> users = Map.of();
  private static long loadedMtime = Long.MIN_VALUE;
  private static String loadedPath = null;

  private Users() {}

  private static synchronized Map<String, User> current() {
    String file = System.getProperty(FILE_PROPERTY);
    if (file == null) {
      return Map.of();
    }
    Path path = Paths.get(file);
    try {
      long mtime = Files.getLastModifiedTime(path).toMillis() ^ Files.size(path);
      if (!file.equals(loadedPath) || mtime != loadedMtime) {
        users = parse(Files.readAllLines(path, StandardCharsets.UTF_8));
        loadedMtime = mtime;
        loadedPath = file;
      }
    } catch (IOException error) {
      users = Map.of(); // no readable file: nobody gets in
      loadedPath = null;
    }
    return users;
  }

  static Map<String, User> parse(List<String> lines) {
    Map<String, User> parsed = new HashMap<>();
    HexFormat hex = HexFormat.of();
    for (String line : lines) {
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      String[] parts = trimmed.split(":");
      if (parts.length != 6 || !parts[2].equals("pbkdf2_sha256")) {
        continue; // a malformed line admits nobody
      }
      parsed.put(parts[0], new User(parts[0], parts[1], Integer.parseInt(parts[3]),
          hex.parseHex(parts[4]), hex.parseHex(parts[5])));
    }
    return parsed;
  }

  /** The user's role when the password matches, else null. */
  public static String authenticate(String name, String password) {
    User user = current().get(name);
    if (user == null || password == null) {
      return null;
    }
    try {
      KeySpec spec = new PBEKeySpec(password.toCharArray(), user.salt(), user.iterations(), user.hash().length * 8);
      byte[] derived = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
      return MessageDigest.isEqual(derived, user.hash()) ? user.role() : null;
    } catch (Exception error) {
      return null;
    }
  }

  /** The role of an authenticated user (looked up again: a removed user loses access at once). */
  public static String role(String name) {
    User user = current().get(name);
    return user == null ? null : user.role();
  }
}
