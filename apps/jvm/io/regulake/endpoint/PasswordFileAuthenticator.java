package io.regulake.endpoint;

import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/** HiveServer2 CUSTOM authentication against the users file (salted PBKDF2-SHA256 hashes). */
public class PasswordFileAuthenticator implements PasswdAuthenticationProvider {
  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    if (Users.authenticate(user, password) == null) {
      QueryLog.refused(user);
      throw new AuthenticationException("wrong user name or password for user " + user);
    }
  }
}
