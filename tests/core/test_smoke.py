"""The shell answers: login page, role rules and the admin pages render."""
from app.testing import csrf_token


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'name="email"' in page and 'type="password"' in page
    assert "Log out" not in page  # nobody is logged in
    # A field without errors says nothing of them (an "aria-invalid" of "None" reads as invalid)
    assert "aria-invalid" not in page and '"None"' not in page


def test_a_field_with_an_error_is_marked_invalid_and_described(client):
    page = client.post("/login", data={"csrf_token": csrf_token(client), "email": "", "password": ""}
                       ).get_data(as_text=True)
    assert 'aria-invalid="true"' in page and 'aria-describedby="email-error"' in page and 'id="email-error"' in page
    assert '"None"' not in page


def test_admin_pages_render(admin_client, customer):
    pages = {"/network/": "Network dashboard", "/network/customers": "Customers",
             "/network/products": "Products", "/network/sites": "Sites", "/network/plugins/": "Plugins",
             "/network/settings/": "Settings", "/network/caught-mail/": "Caught mail"}
    for url, title in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert f"<h1>{title}</h1>" in page, url  # the page itself, not only the menu around it
        assert 'href="/network/customers"' in page and "Log out" in page, url
    assert "carol@example.com" in admin_client.get("/network/customers").get_data(as_text=True)
    assert "Carol&#39;s blog" in admin_client.get("/network/sites").get_data(as_text=True)
    assert "Starter" in admin_client.get("/network/products").get_data(as_text=True)
    plugins = admin_client.get("/network/plugins/").get_data(as_text=True)
    assert "Core e-mails" in plugins and "Domain mapping" in plugins


def test_menu_marks_only_the_current_section(admin_client, customer):
    page = admin_client.get(f"/network/customers/{customer.id}").get_data(as_text=True)
    assert page.count('aria-current="page"') == 1
    assert 'href="/network/customers" aria-current="page"' in page
