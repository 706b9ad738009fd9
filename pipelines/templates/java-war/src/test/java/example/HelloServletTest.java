package example;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HelloServletTest {
    @Test
    void greetingNamesTheApp() {
        assertTrue(HelloServlet.greeting().contains("hello from java-war"));
    }
}
