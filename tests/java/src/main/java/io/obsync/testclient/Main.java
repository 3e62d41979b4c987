package io.obsync.testclient;

import java.util.Arrays;

/**
 * The Java side of obsync's tests: what a user of Apache RocketMQ would run next to obsync, with
 * the RocketMQ Java client itself (no obsync code).
 *
 * <pre>
 * create-topic NAMESRV BROKER TOPIC QUEUES [KEY=VALUE...]   the admin call of `mqadmin updateTopic`
 * consume NAMESRV TOPIC WANT TIMEOUT_MS                     an orderly push consumer, one JSON line
 *                                                           per message (see Consume)
 * show NAMESRV TOPIC WANT TIMEOUT_MS                        the same, for a person (the demo)
 * select-queue QUEUES KEY...                                SelectMessageQueueByHash's queue per key
 * send NAMESRV TOPIC BODY                                   one message; its status or the refusal
 * </pre>
 *
 * Access keys for a broker with ACL come from OBSYNC_JAVA_ACCESS_KEY / OBSYNC_JAVA_SECRET_KEY
 * (never the command line). Errors go to stderr with exit code 1.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    try {
      if (args.length == 0) {
        throw new IllegalArgumentException(usage());
      }
      String[] rest = Arrays.copyOfRange(args, 1, args.length);
      switch (args[0]) {
        case "create-topic" -> Admin.createTopic(rest);
        case "consume" -> Consume.run(rest);
        case "show" -> Show.run(rest);
        case "select-queue" -> SelectQueue.run(rest);
        case "send" -> Send.run(rest);
        default -> throw new IllegalArgumentException(usage());
      }
      System.out.flush();
      // The RocketMQ client's threads are not daemons and its shutdown waits for timers: the
      // result is printed, so leave at once.
      Runtime.getRuntime().halt(0);
    } catch (Throwable e) {
      System.out.flush();
      System.err.println("obsync-java-client: " + e);
      Runtime.getRuntime().halt(1);
    }
  }

  static String usage() {
    return "usage: create-topic NAMESRV BROKER TOPIC QUEUES [KEY=VALUE...] | "
        + "consume|show NAMESRV TOPIC WANT TIMEOUT_MS | select-queue QUEUES KEY... | send NAMESRV TOPIC BODY";
  }
}
