package example;

import jakarta.servlet.annotation.WebServlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** Greets on "/" (the WAR is deployed as Tomcat's ROOT context). */
@WebServlet(urlPatterns = {""})
public class HelloServlet extends HttpServlet {
    static String greeting() {
        String version = System.getenv().getOrDefault("APP_VERSION", "dev");
        return "{\"message\": \"hello from java-war\", \"version\": \"" + version + "\"}\n";
    }

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
        response.setContentType("application/json");
        response.setCharacterEncoding("UTF-8");
        response.getWriter().write(greeting());
    }
}
