"""SASL DIGEST-MD5 from mounted Secrets: between members, and for clients; the JAAS file and zoo.cfg.

Each Secret's dir holds ``username`` and ``password`` (read by zkboot.secrets).  The quorum's is one
account the whole ensemble shares: each member proves it to the others as a learner, and checks it
as the server.  The clients' is the account the server lets in (``sessionRequireClientSASLAuth``
refuses every session without it, ZooKeeper 3.6+), and the one zkboot's own sessions use (the
dynamic join, ``shrink``, ``status``: kazoo with pure-sasl).  zkboot writes the JAAS login
configuration at every start, in the conf dir, mode 0600, and passes the JVM only its path
(``-Djava.security.auth.login.config``), so the password is in no argv, environment or zoo.cfg;
``render`` shows the file with the password masked.

The super user (with a super password file) has an account there too, under the name ZooKeeper's
``zookeeper.superUser`` makes super: zkboot's own ``reconfig`` (the dynamic join, ``shrink``) logs in
as it with SASL DIGEST-MD5, whose challenge and response never put the password on the network.

ZooKeeper's DigestLoginModule reads ``user_<name>="<password>"`` (the server side: who may connect)
and ``username``/``password`` (the learner side: who this member is).  JAAS values are quoted
strings, so a backslash or a double quote in the password is escaped.
"""

from __future__ import annotations

from zkboot.client.session import SUPER_USER
from zkboot.secrets import Account
from zkboot.start.templating import fill

JAAS_NAME = "jaas.conf"  # in the conf dir
LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
SERVER_CONTEXT, LEARNER_CONTEXT = "QuorumServer", "QuorumLearner"
CLIENT_CONTEXT = "Server"  # ZooKeeper's name for the section that checks clients
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
MASKED = "<masked>"


def jaas(
    quorum: Account | None,
    client: Account | None = None,
    masked: bool = False,
    super_password: str | None = None,
) -> str:
    """The JAAS login configuration of a member: the quorum's account (server and learner sides),
    the account clients authenticate as, and the super user's (``masked``: passwords shown as MASKED)."""
    return fill(
        JAAS_NAME,
        quorum=quorum,
        client=client,
        super_password=super_password,
        super_user=SUPER_USER,
        masked=masked,
        mask=MASKED,
        login_module=LOGIN_MODULE,
        client_context=CLIENT_CONTEXT,
        server_context=SERVER_CONTEXT,
        learner_context=LEARNER_CONTEXT,
    )


def super_user_flag() -> str:
    """The JVM flag that makes a SASL session of the super user's account a super user's."""
    return f"-Dzookeeper.superUser={SUPER_USER}"


def client_entries(require: bool) -> list[tuple[str, str]]:
    """zoo.cfg's entries for SASL clients; ``require``: refuse sessions without SASL (3.6+)."""
    entries = [("authProvider.sasl", SASL_PROVIDER)]
    if require:
        entries.append(("sessionRequireClientSASLAuth", "true"))
    return entries


def quorum_entries(require: bool) -> list[tuple[str, str]]:
    """zoo.cfg's quorum.auth.* entries; ``require`` False only while an ensemble is rolled to SASL."""
    flag = "true" if require else "false"
    return [
        ("quorum.auth.enableSasl", "true"),
        ("quorum.auth.learnerRequireSasl", flag),
        ("quorum.auth.serverRequireSasl", flag),
        ("quorum.auth.learner.saslLoginContext", LEARNER_CONTEXT),
        ("quorum.auth.server.saslLoginContext", SERVER_CONTEXT),
    ]
